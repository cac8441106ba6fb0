import _GradusShims

extension ThreadPool {
    /// Size of a first-touch shard: the transparent huge page size, so no huge page straddles two workers.
    public static let placementShardBytes = 2 << 20

    /// Faults in the pages of `[pointer, pointer + byteCount)` from the pool's workers, in contiguous runs of
    /// 2 MiB shards split like `parallelFor`: each page lands on the node of the (pinned) worker that will
    /// use that part of the buffer under the default first-touch policy. Writes zeros to one byte per page,
    /// so call it on fresh memory only. `pointer` should be 2 MiB-aligned (BufferPool's large buffers are).
    public func firstTouch(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        guard byteCount > 0 else { return }
        let shard = Self.placementShardBytes
        let shards = (byteCount + shard - 1) / shard
        let page = Int(gradus__page_size())
        let base = Int(bitPattern: pointer)
        parallelFor(shards) { range, _ in
            let end = min(byteCount, range.upperBound * shard)
            var offset = range.lowerBound * shard
            while offset < end {
                UnsafeMutablePointer<UInt8>(bitPattern: base + offset)!.pointee = 0
                offset += page
            }
        }
    }
}

extension ThreadPool {
    /// The CPUs the calling thread may run on now (its own affinity mask; a pinned worker sees one CPU).
    public static func currentThreadAffinity() -> [Int] {
        var cpus = [Int32](repeating: 0, count: 8192)
        let n = cpus.withUnsafeMutableBufferPointer { gradus__current_affinity($0.baseAddress, Int32($0.count)) }
        guard n > 0 else { return [] }
        return cpus[0..<min(Int(n), cpus.count)].map(Int.init)
    }

    /// The CPU the calling thread runs on now, nil if unknown.
    public static func currentCPU() -> Int? {
        let c = Int(gradus__current_cpu())
        return c >= 0 ? c : nil
    }
}
