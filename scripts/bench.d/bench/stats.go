package main

import (
	"fmt"
	"math"
	"slices"
)

// percentile is the nearest-rank percentile (p in 0..1) of values, sorted
// here: the value at rank ceil(n * p), counted from 1. NaN when there is none.
func percentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	if !slices.IsSorted(values) {
		values = slices.Sorted(slices.Values(values))
	}
	// As the awk of the bash version: int(n * p + 0.999999), at least 1.
	i := int(float64(len(values))*p + 0.999999)
	return values[min(max(i, 1), len(values))-1]
}

// ratio is a / b, 0 when b is not positive (a phase that measured nothing).
func ratio(a, b float64) float64 {
	if b > 0 {
		return a / b
	}
	return 0
}

// ratioLine is one of the last lines: "ratio NAME = X.XX".
func ratioLine(name string, r float64) string {
	return fmt.Sprintf("ratio %s = %.2f", name, r)
}

// totals adds up a contender's phases: requests, seconds measured and CPU.
type totals struct {
	requests int64
	seconds  float64
	cpuTicks int64 // of the contender's own process, in clock ticks
}

func (t *totals) add(p phase) {
	t.requests += p.requests
	t.seconds += p.seconds
	t.cpuTicks += p.cpuTicks
}

// rps is the throughput over all the phases added.
func (t totals) rps() float64 { return ratio(float64(t.requests), t.seconds) }

// cpuPerRequest is the CPU time per request in µs.
func (t totals) cpuPerRequest() float64 {
	return ratio(float64(t.cpuTicks)/clockTicks*1e6, float64(t.requests))
}
