// The error boundary between C callers and the Swift core (toolchain.md §3, style.md "Errors at the boundary").
//
// Every export: (1) validates pointers, counts, dtypes and enums before any Swift code that could trap,
// (2) runs the Swift call inside `guarded`, (3) returns a gradus_status and leaves the message in the
// per-thread slot that gradus_last_error_message() reads.
import Glibc
import GradusRuntime
import _GradusShims

/// Runs `body`, mapping a thrown `GradusError` to its status and the per-thread message slot.
/// A successful call clears the slot, so the message always belongs to the last failed call.
@inline(__always)
func guarded(_ body: () throws(GradusError) -> Void) -> gradus_status {
    do {
        try body()
        return GRADUS_STATUS_OK
    } catch {
        gradus__set_error(error.message)
        return error.status
    }
}

/// Throws `invalidArgument` when `pointer` is NULL; `name` is the C parameter name for the message.
@inline(__always)
func require<T>(_ pointer: T?, _ name: StaticString) throws(GradusError) -> T {
    guard let pointer else { throw .invalidArgument("\(name) must not be NULL") }
    return pointer
}

/// C strings that live as long as the process (status names, the version string): allocated once,
/// never freed, so the pointers the C API hands out stay valid.
struct StaticCStrings: @unchecked Sendable {
    let pointers: [UnsafePointer<CChar>]
    init(_ strings: [String]) {
        pointers = strings.map { UnsafePointer(strdup($0)!) }
    }
}

/// Copies `text` into a caller buffer snprintf-style: always NUL-terminated when `capacity > 0`,
/// truncated if needed; `*outLength` receives the full UTF-8 length without the NUL.
func copyOut(_ text: String, to buffer: UnsafeMutablePointer<CChar>?, capacity: Int,
             length outLength: UnsafeMutablePointer<Int>?) throws(GradusError) {
    let outLength = try require(outLength, "out_length")
    outLength.pointee = 0
    guard capacity >= 0 else { throw .invalidArgument("capacity is negative") }
    if capacity > 0 && buffer == nil { throw .invalidArgument("buffer is NULL but capacity is \(capacity)") }
    var utf8 = Array(text.utf8)
    outLength.pointee = utf8.count
    guard let buffer, capacity > 0 else { return }
    let n = min(utf8.count, capacity - 1)
    utf8.withUnsafeMutableBytes { raw in
        UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress!, byteCount: n)
    }
    buffer[n] = 0
}

/// Reads an options struct whose first field is `size_t struct_size`: the size is read alone first, so a caller's
/// smaller (older or uninitialised) struct is never read past its end; `name` is the C parameter for messages.
func optionsArg<T>(_ options: UnsafePointer<T>, _ name: StaticString) throws(GradusError) -> T {
    let size = UnsafeRawPointer(options).load(as: Int.self)
    guard size >= MemoryLayout<T>.size, size <= 65536 else {
        throw .invalidArgument("\(name)->struct_size is \(size); fill the struct with its *_options_init function first")
    }
    return options.pointee
}
