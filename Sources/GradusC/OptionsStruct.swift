// Options structs that grow (include/gradus.h "Conventions", Tests/abi/structs.txt): fields are only appended,
// and every struct begins with `size_t struct_size`, the number of bytes the caller's struct holds.
//
// Two init entry points per struct:
//  - gradus_*_options_init_sized(options, sizeof *options, ...): writes min(size, the library's size) bytes of
//    defaults, so a caller built against an older header (smaller struct) is never written past its end;
//  - gradus_*_options_init(options, ...): the 0.1.0 symbol, which takes no size. It writes the struct's first
//    published layout only, the most any caller of that symbol can own. The header maps source calls of this name
//    to the sized one (a macro passing sizeof), so only binaries built against 0.1.x headers reach it.
import GradusRuntime
import _GradusShims

enum OptionsStruct {
    /// The largest struct_size accepted anywhere: a guard against uninitialised memory.
    static let maxSize = 65536

    /// Writes the first `bytes` bytes of `value` to `destination`, with struct_size (the first field) = `structSize`
    /// (default `bytes`).
    static func write<T>(_ value: T, to destination: UnsafeMutablePointer<T>, bytes: Int, structSize: Int? = nil) {
        var v = value
        withUnsafeMutableBytes(of: &v) { raw in
            raw.storeBytes(of: structSize ?? bytes, as: Int.self)
            UnsafeMutableRawPointer(destination).copyMemory(from: raw.baseAddress!, byteCount: Swift.min(bytes, raw.count))
        }
    }

    /// The sized init: `size` is the caller's sizeof. Below the first published layout (`firstLayout`) or above
    /// `maxSize` it is an error; otherwise the library's defaults fill min(size, its size) bytes, any further bytes
    /// of a newer caller's struct are zeroed, and struct_size = `size` (readers take min(struct_size, their size),
    /// and an array of these structs has that stride).
    static func initialize<T>(_ options: UnsafeMutablePointer<T>?, size: Int, firstLayout: Int, defaults: T,
                              _ type: StaticString) -> gradus_status {
        guarded { () throws(GradusError) in
            let options = try require(options, "options")
            guard size >= firstLayout, size <= maxSize else {
                throw .invalidArgument("options_size is \(size); pass sizeof(\(type)) (this library accepts \(firstLayout)...\(maxSize))")
            }
            let known = Swift.min(size, MemoryLayout<T>.size)
            write(defaults, to: options, bytes: known, structSize: size)
            if size > known { (UnsafeMutableRawPointer(options) + known).initializeMemory(as: UInt8.self, repeating: 0, count: size - known) }
        }
    }
}
