import Glibc

/// Monotonic wall time in seconds, for progress reports and benchmarks.
public enum MonotonicTime {
    @inline(__always)
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + 1e-9 * Double(ts.tv_nsec)
    }
}
