// Handle kinds of the C API and the per-thread tape that collects new handles (section "Autodiff").
import Glibc
import Gradus
import _GradusShims

/// A model handle: the Sequential built from layer specs, or a diffusion denoiser (then `module` is empty and
/// `denoiser` holds the network; `root` is whichever the model-wide calls act on).
final class ModelBox {
    var module: Sequential
    let denoiser: (any ConditionalDenoiser & Module)?
    init(_ module: Sequential) { self.module = module; denoiser = nil }
    init(denoiser: any ConditionalDenoiser & Module) { module = Sequential([]); self.denoiser = denoiser }
    /// The module that owns the parameters (save, load, train mode, zero_grad).
    var root: Module { denoiser ?? module }
    lazy var named: [(String, Tensor)] = root.namedParameters()
}

/// A dataset handle: the dataset in its current order.
final class DatasetBox {
    var dataset: Dataset
    init(_ dataset: Dataset) { self.dataset = dataset }
}

/// A tape handle: the handles created on its thread while it is active.
final class TapeBox {
    var handles: [OpaquePointer] = []
    var activeThread: pthread_t? = nil
}

/// Per-thread active tape (unretained: the registry keeps the tape alive while it is live).
private let tapeKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()

enum ActiveTape {
    static var current: TapeBox? {
        get { pthread_getspecific(tapeKey).map { Unmanaged<TapeBox>.fromOpaque($0).takeUnretainedValue() } }
        set { pthread_setspecific(tapeKey, newValue.map { UnsafeRawPointer(Unmanaged.passUnretained($0).toOpaque()) }) }
    }
}

/// Registers `object` as a new handle and records it on the thread's active tape.
func publish<T: AnyObject>(_ object: T) -> OpaquePointer {
    let handle = HandleRegistry.shared.add(object)
    ActiveTape.current?.handles.append(handle)
    return handle
}

/// Writes a new tensor handle into `out` (already validated non-NULL).
@inline(__always)
func emit(_ tensor: Tensor, _ out: UnsafeMutablePointer<gradus_tensor?>) {
    out.pointee = publish(tensor)
}

@inline(__always)
func tensorArg(_ handle: gradus_tensor?, _ name: StaticString) throws(GradusError) -> Tensor {
    try HandleRegistry.shared.get(handle, as: Tensor.self, name)
}

/// Validates an `out` pointer and sets it to NULL first, so a failed call leaves a defined value.
@inline(__always)
func outArg<T>(_ out: UnsafeMutablePointer<T?>?) throws(GradusError) -> UnsafeMutablePointer<T?> {
    let out = try require(out, "out")
    out.pointee = nil
    return out
}

func dtypeArg(_ dtype: gradus_dtype) throws(GradusError) -> DType {
    guard let d = DType(rawValue: dtype) else { throw .invalidArgument("dtype \(dtype) is not a GRADUS_DTYPE_* value") }
    return d
}

/// Physical memory in bytes (the cap on one tensor's size).
let physicalMemoryBytes = BufferPool.physicalMemoryBytes

/// Reads a C shape (ndim entries, each >= 0) and checks that the element count and byte size fit.
func shapeArg(_ shape: UnsafePointer<Int64>?, _ ndim: Int32, dtype: DType) throws(GradusError) -> [Int] {
    guard ndim >= 0, ndim <= GRADUS_MAX_RANK else { throw .invalidArgument("ndim \(ndim) is not in 0...\(GRADUS_MAX_RANK)") }
    if ndim == 0 { return [] }
    let shape = try require(shape, "shape")
    var dims: [Int] = []
    var total = 1
    for i in 0..<Int(ndim) {
        let d = shape[i]
        guard d >= 0 else { throw .invalidArgument("shape[\(i)] is \(d); dimensions must be >= 0") }
        let (p, o) = total.multipliedReportingOverflow(by: Int(d))
        guard !o, p <= Int.max / 8 else { throw .outOfMemory("shape \(Array(UnsafeBufferPointer(start: shape, count: Int(ndim)))) is too large") }
        total = p
        dims.append(Int(d))
    }
    // A Swift allocation failure traps, so refuse sizes beyond the machine's physical memory up front.
    let bytes = total * dtype.size
    guard bytes <= physicalMemoryBytes else {
        throw .outOfMemory("shape \(dims) needs \(bytes) bytes, more than the machine's \(physicalMemoryBytes)")
    }
    return dims
}
