import Glibc
import GradusRuntime
import Synchronization

/// Distinguishes temporary files of concurrent saves within one process.
private let temporaryFileCounter = Atomic<Int>(0)

/// Plain POSIX file helpers shared by the readers and the checkpoint writer (no Foundation).
///
/// Every failure becomes `GradusError.io` with the path and `strerror(errno)`, never a trap.
public enum FileIO {
    /// Human-readable text of the current `errno`.
    static func errnoText() -> String {
        guard let s = strerror(errno) else { return "errno \(errno)" }
        return String(cString: s)
    }

    /// The size in bytes of a regular file.
    public static func fileSize(_ path: String) throws(GradusError) -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { throw .io("cannot stat '\(path)': \(errnoText())") }
        return Int(st.st_size)
    }

    /// True when `path` names an existing file or directory.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// Reads a whole file into memory.
    ///
    /// - Parameter maxBytes: refuse files larger than this (default: no limit besides memory).
    public static func readAll(_ path: String, maxBytes: Int = Int.max) throws(GradusError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open '\(path)': \(errnoText())") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io("cannot stat '\(path)': \(errnoText())") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .io("'\(path)' is not a regular file") }
        let size = Int(st.st_size)
        guard size <= maxBytes else { throw .io("'\(path)' is \(size) bytes, more than the limit \(maxBytes)") }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        var failure: GradusError? = nil
        bytes.withUnsafeMutableBytes { buf in
            while done < size {
                let n = read(fd, buf.baseAddress! + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = .io("read error on '\(path)': \(errnoText())"); return
                }
                if n == 0 { failure = .io("'\(path)' shrank while reading (\(done) of \(size) bytes)"); return }
                done += n
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Writes all bytes to an open descriptor, retrying short writes and EINTR.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(GradusError) {
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("write error on '\(path)': \(errnoText())")
            }
            done += n
        }
    }

    /// Replaces `path` atomically with the concatenation of `chunks`.
    ///
    /// The bytes go to a temporary file in the same directory, which is fsync'ed and then renamed over
    /// `path`; the directory is fsync'ed last. A crash or error at any point leaves either the previous
    /// file or the complete new one, never a mix. On error the temporary file is removed.
    ///
    /// - Parameter failAfterBytes: test hook; simulate an I/O error once this many bytes were written.
    public static func writeAtomically(_ path: String, chunks: [[UInt8]]) throws(GradusError) {
        try writeAtomically(path, chunks: chunks, failAfterBytes: nil)
    }

    static func writeAtomically(_ path: String, chunks: [[UInt8]], failAfterBytes: Int?) throws(GradusError) {
        guard !path.isEmpty else { throw .invalidArgument("empty path") }
        let serial = temporaryFileCounter.add(1, ordering: .relaxed).newValue
        let tmp = path + ".tmp-\(getpid())-\(serial)"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io("cannot create '\(tmp)': \(errnoText())") }
        var closed = false
        do throws(GradusError) {
            var written = 0
            for chunk in chunks {
                var part = chunk[...]
                if let limit = failAfterBytes, written + chunk.count > limit {
                    part = chunk[..<max(0, limit - written)]
                }
                do {
                    try part.withUnsafeBytes { buf in try writeAll(fd, buf, path: tmp) }
                } catch let e as GradusError { throw e } catch { throw GradusError.io("\(error)") }
                written += part.count
                if let limit = failAfterBytes, written >= limit {
                    throw GradusError.io("simulated failure after \(limit) bytes writing '\(tmp)'")
                }
            }
            guard fsync(fd) == 0 else { throw GradusError.io("fsync failed on '\(tmp)': \(errnoText())") }
            closed = true
            guard close(fd) == 0 else { throw GradusError.io("close failed on '\(tmp)': \(errnoText())") }
            guard rename(tmp, path) == 0 else {
                throw GradusError.io("cannot rename '\(tmp)' to '\(path)': \(errnoText())")
            }
        } catch {
            if !closed { close(fd) }
            unlink(tmp)
            throw error
        }
        syncDirectory(of: path)
    }

    /// fsync's the directory holding `path` so the rename itself is durable (best effort).
    static func syncDirectory(of path: String) {
        var dir = "."
        if let slash = path.lastIndex(of: "/") {
            dir = slash == path.startIndex ? "/" : String(path[..<slash])
        }
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }
}
