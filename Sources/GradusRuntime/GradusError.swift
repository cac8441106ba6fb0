import _GradusShims

/// Everything a caller can get wrong. Each case maps to one pinned `GRADUS_STATUS_*` value of
/// `include/gradus.h`, so the C ABI reports Swift errors without translation tables.
public enum GradusError: Error, Equatable, CustomStringConvertible, Sendable {
    case invalidArgument(String)
    case shapeMismatch(String)
    case dtypeMismatch(String)
    case outOfMemory(String)
    case io(String)
    case format(String)
    case unsupported(String)
    case invalidHandle(String)
    case invalidState(String)
    case notFound(String)
    case `internal`(String)

    /// The C status code (`GRADUS_STATUS_*`).
    public var status: Int32 {
        switch self {
        case .invalidArgument: return GRADUS_STATUS_INVALID_ARGUMENT
        case .shapeMismatch: return GRADUS_STATUS_SHAPE_MISMATCH
        case .dtypeMismatch: return GRADUS_STATUS_DTYPE_MISMATCH
        case .outOfMemory: return GRADUS_STATUS_OUT_OF_MEMORY
        case .io: return GRADUS_STATUS_IO_ERROR
        case .format: return GRADUS_STATUS_FORMAT_ERROR
        case .unsupported: return GRADUS_STATUS_UNSUPPORTED
        case .invalidHandle: return GRADUS_STATUS_INVALID_HANDLE
        case .invalidState: return GRADUS_STATUS_INVALID_STATE
        case .notFound: return GRADUS_STATUS_NOT_FOUND
        case .internal: return GRADUS_STATUS_INTERNAL
        }
    }

    /// The human-readable message (what `gradus_last_error_message()` returns).
    public var message: String {
        switch self {
        case .invalidArgument(let m), .shapeMismatch(let m), .dtypeMismatch(let m), .outOfMemory(let m),
             .io(let m), .format(let m), .unsupported(let m), .invalidHandle(let m), .invalidState(let m),
             .notFound(let m), .internal(let m):
            return m
        }
    }

    public var description: String { "GradusError(\(status)): \(message)" }
}
