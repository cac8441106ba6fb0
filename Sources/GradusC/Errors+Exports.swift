// Section "Status and errors" of include/gradus.h.
import _GradusShims

/// Names of the pinned statuses, indexed by value; the last entry names unknown values.
private let statusNames = StaticCStrings([
    "GRADUS_STATUS_OK", "GRADUS_STATUS_INVALID_ARGUMENT", "GRADUS_STATUS_SHAPE_MISMATCH",
    "GRADUS_STATUS_DTYPE_MISMATCH", "GRADUS_STATUS_OUT_OF_MEMORY", "GRADUS_STATUS_IO_ERROR",
    "GRADUS_STATUS_FORMAT_ERROR", "GRADUS_STATUS_UNSUPPORTED", "GRADUS_STATUS_INVALID_HANDLE",
    "GRADUS_STATUS_INVALID_STATE", "GRADUS_STATUS_NOT_FOUND", "GRADUS_STATUS_INTERNAL",
    "GRADUS_STATUS_UNKNOWN",
])

@c @implementation public func gradus_status_string(_ status: gradus_status) -> UnsafePointer<CChar>! {
    let known = statusNames.pointers.count - 1
    let index = Int(status)
    return statusNames.pointers[index >= 0 && index < known ? index : known]
}

@c @implementation public func gradus_last_error_message() -> UnsafePointer<CChar>! {
    gradus__get_error()
}

@c @implementation public func gradus_clear_last_error() {
    gradus__clear_error()
}

@c @implementation public func gradus_dtype_size(_ dtype: gradus_dtype) -> Int {
    switch dtype {
    case GRADUS_DTYPE_FLOAT32: return 4
    case GRADUS_DTYPE_FLOAT64: return 8
    default: return 0
    }
}
