package sink

import (
	"fmt"
	"strconv"
	"strings"
)

// RejectRule is one --reject item: the reply Code (with its Enhanced status code) to the
// fraction Probability of the occurrences of command Verb, drawn independently for each.
type RejectRule struct {
	Verb        Verb
	Code        int     // 400..599
	Enhanced    string  // "5.3.0"; the default is the code's class followed by ".3.0"
	Probability float64 // in (0, 1]
	// Delivered (end of data only) takes the message first — it is counted as accepted,
	// dumped and traced — and then refuses it: the client sends it again, and the sink
	// sees the duplicate a real MTA makes when its reply to the dot is lost.
	Delivered bool
}

// String renders the rule in --reject syntax.
func (r RejectRule) String() string {
	s := r.Verb.String() + "=" + strconv.Itoa(r.Code) + "/" + r.Enhanced + ":" +
		strconv.FormatFloat(r.Probability*100, 'g', -1, 64) + "%"
	if r.Delivered {
		s += ":delivered"
	}
	return s
}

// ParseRejects reads --reject's "command=code[/enhanced][:probability][:delivered],...",
// for example "rcpt=550:5%,.=451/4.3.0:2%" ("dot" and "." both name the end of data). The
// probability is a fraction in (0,1] or a percentage; without one every occurrence is
// refused.
func ParseRejects(spec string) ([]RejectRule, error) {
	var rules []RejectRule
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		r, err := parseRejectItem(item)
		if err != nil {
			return nil, fmt.Errorf("bad --reject item %q: %w", item, err)
		}
		rules = append(rules, r)
	}
	if len(rules) == 0 {
		return nil, fmt.Errorf("bad --reject %q: no rule", spec)
	}
	return rules, nil
}

func parseRejectItem(item string) (RejectRule, error) {
	name, rest, ok := strings.Cut(item, "=")
	if !ok {
		return RejectRule{}, fmt.Errorf("want command=code[/enhanced][:probability][:delivered]")
	}
	v, err := rejectVerb(name)
	if err != nil {
		return RejectRule{}, err
	}
	fields := strings.Split(rest, ":")
	r := RejectRule{Verb: v, Probability: 1}
	if r.Code, r.Enhanced, err = parseRejectCode(fields[0]); err != nil {
		return RejectRule{}, err
	}
	for i, f := range fields[1:] {
		switch {
		case f == "delivered":
			if v != VerbDot {
				return RejectRule{}, fmt.Errorf("delivered applies to the end of data only")
			}
			r.Delivered = true
		case i == 0:
			if r.Probability, err = parseProbability(f); err != nil {
				return RejectRule{}, err
			}
		default:
			return RejectRule{}, fmt.Errorf("unexpected %q", f)
		}
	}
	return r, nil
}

// rejectVerb names the command a rule applies to. BDAT is left out: its chunk follows the
// command, and refusing the command would still have to read it.
func rejectVerb(name string) (Verb, error) {
	if strings.EqualFold(name, "dot") {
		name = "."
	}
	v, ok := VerbByName(name)
	switch {
	case !ok:
		return VerbUnknown, fmt.Errorf("unknown command %q", name)
	case v == VerbBDAT:
		return VerbUnknown, fmt.Errorf("bdat cannot be refused (its chunk follows it); refuse . instead")
	}
	return v, nil
}

// parseRejectCode reads "550" or "550/5.1.1".
func parseRejectCode(s string) (int, string, error) {
	codeText, enh, hasEnh := strings.Cut(s, "/")
	code, err := strconv.Atoi(codeText)
	if err != nil || len(codeText) != 3 || code < 400 || code > 599 {
		return 0, "", fmt.Errorf("reply code %q: want 400..599", codeText)
	}
	class := byte('0' + code/100)
	if !hasEnh {
		return code, string(class) + ".3.0", nil
	}
	if !validEnhanced(enh) || enh[0] != class {
		return 0, "", fmt.Errorf("enhanced code %q: want %c.x.y (RFC 3463) for %d", enh, class, code)
	}
	return code, enh, nil
}

// validEnhanced checks RFC 3463's class.subject.detail: 2, 4 or 5, then 1-3 digits, then
// 1-3 digits.
func validEnhanced(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.Contains("245", parts[0]) {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) < 1 || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
	}
	return true
}

// rejectTable is one verb's rules, ready to draw: the first rule whose cumulative
// probability exceeds the draw applies.
type rejectTable struct {
	stream *randomStream
	cum    []float64
	rules  []RejectRule
	sites  []*refusalSite // one per rule: the reply and its counter
	// tlsSites replace sites after STARTTLS, for EHLO/LHLO (the client's phase is then
	// "ehlo_tls"); nil for other verbs.
	tlsSites []*refusalSite
}

// pick draws once and returns the rule that applies, if any.
func (t *rejectTable) pick() (int, bool) {
	u := t.stream.float64()
	for i, c := range t.cum {
		if u < c {
			return i, true
		}
	}
	return 0, false
}

// checkRejects verifies that one verb's probabilities add up to at most 1.
func checkRejects(rules []RejectRule) error {
	var sum [numVerbs]float64
	for _, r := range rules {
		if r.Code < 400 || r.Code > 599 || r.Probability <= 0 || r.Probability > 1 || r.Verb == VerbUnknown || r.Verb >= numVerbs {
			return fmt.Errorf("bad reject rule %+v", r)
		}
		if r.Enhanced != "" && (!validEnhanced(r.Enhanced) || int(r.Enhanced[0]-'0') != r.Code/100) {
			return fmt.Errorf("bad enhanced code in reject rule %s", r)
		}
		sum[r.Verb] += r.Probability
		if sum[r.Verb] > 1+1e-9 {
			return fmt.Errorf("reject rules for %s add up to more than 100%%", r.Verb)
		}
	}
	return nil
}
