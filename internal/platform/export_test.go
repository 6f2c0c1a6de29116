package platform

// CPUQuota is cpuQuota, for the tests of ApplyProcs.
var CPUQuota = cpuQuota
