package expr

// Cost is the number of comparisons n makes, each item of an in-list
// counted as one: a measure of what evaluating n costs per record, for
// callers that cap it (a realtime filter is evaluated for every change,
// once per subscriber). It works on what Parse returns, checked or not; a
// nil n costs 0.
func Cost(n Node) int {
	t, ok := n.(*tree)
	if !ok || t == nil {
		return 0
	}
	return cost(t.root)
}

func cost(n node) int {
	total := 0
	switch n := n.(type) {
	case *andNode:
		for _, it := range n.items {
			total += cost(it)
		}
	case *orNode:
		for _, it := range n.items {
			total += cost(it)
		}
	case *notNode:
		total = cost(n.x)
	case *cmpNode:
		total = 1
		if l, ok := n.right.(*listNode); ok {
			total = max(1, len(l.items))
		}
	}
	return total
}
