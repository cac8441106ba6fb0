import _GradusShims

/// The library version, from the macros of `include/gradus.h` (one source of truth).
public enum GradusVersion {
    public static let major = Int(GRADUS_VERSION_MAJOR)
    public static let minor = Int(GRADUS_VERSION_MINOR)
    public static let patch = Int(GRADUS_VERSION_PATCH)
    /// The C ABI version (the SONAME's number); bumps on any incompatible change.
    public static let abi = Int(GRADUS_ABI_VERSION)
    public static var string: String { "\(major).\(minor).\(patch)" }
}
