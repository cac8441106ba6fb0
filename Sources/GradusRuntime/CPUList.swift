import Glibc

/// CPU and node id lists in the kernel's "cpulist" syntax (`0-3,8,10-11`), as used by sysfs,
/// `taskset -c`, `numactl --physcpubind` and `GRADUS_CPUS`.
public enum CPUList {
    /// The largest CPU id accepted (glibc's `CPU_SETSIZE` is 1024; the kernel allows up to 8192).
    public static let maxCPU = 8191

    /// Parses a cpulist into sorted, unique ids.
    ///
    /// - Parameters:
    ///   - text: `"0-3,8"`; whitespace and a trailing newline are ignored; an empty string gives `[]`.
    ///   - name: what the text is, used in the error message (default `"cpu list"`).
    /// - Throws: `GradusError.invalidArgument` on malformed input, reversed ranges or ids above `maxCPU`.
    public static func parse(_ text: String, name: String = "cpu list") throws(GradusError) -> [Int] {
        var ids: [Int] = []
        for rawPart in text.split(separator: ",", omittingEmptySubsequences: false) {
            let part = rawPart.filter { !$0.isWhitespace }
            if part.isEmpty {
                if text.allSatisfy({ $0.isWhitespace }) { return [] }
                throw .invalidArgument("\(name) '\(text)': empty entry")
            }
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 1 || bounds.count == 2,
                  let lo = Int(bounds[0]), let hi = Int(bounds[bounds.count - 1]), lo >= 0 else {
                throw .invalidArgument("\(name) '\(text)': cannot parse '\(part)' (expected e.g. 0-3,8)")
            }
            guard lo <= hi else { throw .invalidArgument("\(name) '\(text)': reversed range '\(part)'") }
            guard hi <= maxCPU else { throw .invalidArgument("\(name) '\(text)': id \(hi) exceeds \(maxCPU)") }
            ids.append(contentsOf: lo...hi)
        }
        return Array(Set(ids)).sorted()
    }

    /// Formats ids as a compact cpulist (`[0,1,2,3,8]` → `"0-3,8"`).
    public static func format(_ ids: [Int]) -> String {
        let sorted = Array(Set(ids)).sorted()
        var parts: [String] = []
        var i = 0
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count && sorted[j + 1] == sorted[j] + 1 { j += 1 }
            parts.append(j == i ? "\(sorted[i])" : "\(sorted[i])-\(sorted[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}

/// Small Foundation-free file helpers for sysfs and procfs.
enum SystemFiles {
    /// The whole content of a small text file, or nil when it cannot be read.
    static func readText(_ path: String, limit: Int = 1 << 16) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Names of the entries of a directory (without `.` and `..`), or nil when it cannot be opened.
    static func listDirectory(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { ptr in
                ptr.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                    String(cString: $0)
                }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
