// Section "Version" of include/gradus.h.
import _GradusShims

private let versionString = StaticCStrings(["\(GRADUS_VERSION_MAJOR).\(GRADUS_VERSION_MINOR).\(GRADUS_VERSION_PATCH)"])

@c @implementation public func gradus_version_major() -> Int32 { GRADUS_VERSION_MAJOR }
@c @implementation public func gradus_version_minor() -> Int32 { GRADUS_VERSION_MINOR }
@c @implementation public func gradus_version_patch() -> Int32 { GRADUS_VERSION_PATCH }
@c @implementation public func gradus_version_string() -> UnsafePointer<CChar>! { versionString.pointers[0] }
@c @implementation public func gradus_abi_version() -> Int32 { GRADUS_ABI_VERSION }
