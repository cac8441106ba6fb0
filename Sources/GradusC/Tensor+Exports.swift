// Section "Tensors" of include/gradus.h.
import Glibc
import Gradus
import _GradusShims

@c @implementation public func gradus_tensor_create_copy(
    _ data: UnsafeRawPointer?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ dtype: gradus_dtype,
    _ out: UnsafeMutablePointer<gradus_tensor?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let d = try dtypeArg(dtype)
        let dims = try shapeArg(shape, ndim, dtype: d)
        let t: Tensor
        if Tensor.elementCount(dims) == 0 {
            t = Tensor.zeros(dims, dtype: d)
        } else {
            t = try Tensor.copying(try require(data, "data"), shape: dims, dtype: d)
        }
        emit(t, out)
    }
}

@c @implementation public func gradus_tensor_create_full(
    _ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ dtype: gradus_dtype, _ value: Double,
    _ out: UnsafeMutablePointer<gradus_tensor?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let d = try dtypeArg(dtype)
        emit(Tensor.full(try shapeArg(shape, ndim, dtype: d), value, dtype: d), out)
    }
}

/// Carries the C deleter to the storage's release closure.
private struct Deleter: @unchecked Sendable {
    let function: gradus_deleter
    let userData: UnsafeMutableRawPointer?
}

@c @implementation public func gradus_tensor_wrap(
    _ data: UnsafeMutableRawPointer?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ dtype: gradus_dtype,
    _ deleter: gradus_deleter?, _ user_data: UnsafeMutableRawPointer?, _ out: UnsafeMutablePointer<gradus_tensor?>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        let d = try dtypeArg(dtype)
        let dims = try shapeArg(shape, ndim, dtype: d)
        let data = try require(data, "data")
        guard Int(bitPattern: data) % d.size == 0 else { throw .invalidArgument("data is not aligned for \(d)") }
        let release: (@Sendable (UnsafeMutableRawPointer) -> Void)?
        if let deleter {
            let box = Deleter(function: deleter, userData: user_data)
            release = { p in box.function(p, box.userData) }
        } else {
            release = { _ in }
        }
        emit(try Tensor.borrowing(data, shape: dims, dtype: d, release: release), out)
    }
}

@c @implementation public func gradus_tensor_destroy(_ tensor: gradus_tensor?) -> gradus_status {
    guarded { () throws(GradusError) in
        guard HandleRegistry.shared.remove(tensor, as: Tensor.self) else {
            throw .invalidHandle("tensor is not a live tensor handle (destroyed twice, stale or foreign)")
        }
    }
}

@c @implementation public func gradus_tensor_ndim(_ tensor: gradus_tensor?, _ out: UnsafeMutablePointer<Int32>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try require(out, "out")
        out.pointee = 0
        out.pointee = Int32(try tensorArg(tensor, "tensor").rank)
    }
}

@c @implementation public func gradus_tensor_shape(
    _ tensor: gradus_tensor?, _ shape: UnsafeMutablePointer<Int64>?, _ capacity: Int32, _ out_ndim: UnsafeMutablePointer<Int32>?
) -> gradus_status {
    guarded { () throws(GradusError) in
        let outN = try require(out_ndim, "out_ndim")
        outN.pointee = 0
        let t = try tensorArg(tensor, "tensor")
        guard capacity >= Int32(t.rank) else { throw .invalidArgument("capacity \(capacity) < rank \(t.rank)") }
        if t.rank > 0 {
            let shape = try require(shape, "shape")
            for (i, d) in t.shape.enumerated() { shape[i] = Int64(d) }
        }
        outN.pointee = Int32(t.rank)
    }
}

@c @implementation public func gradus_tensor_dtype(_ tensor: gradus_tensor?, _ out: UnsafeMutablePointer<gradus_dtype>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try require(out, "out")
        out.pointee = try tensorArg(tensor, "tensor").dtype.rawValue
    }
}

@c @implementation public func gradus_tensor_numel(_ tensor: gradus_tensor?, _ out: UnsafeMutablePointer<Int64>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try require(out, "out")
        out.pointee = 0
        out.pointee = Int64(try tensorArg(tensor, "tensor").count)
    }
}

@c @implementation public func gradus_tensor_copy_to(_ tensor: gradus_tensor?, _ dst: UnsafeMutableRawPointer?, _ capacity: Int) -> gradus_status {
    guarded { () throws(GradusError) in
        let t = try tensorArg(tensor, "tensor")
        let bytes = t.count * t.dtype.size
        guard capacity >= bytes else { throw .shapeMismatch("capacity \(capacity) bytes < \(bytes) bytes of the tensor") }
        if bytes == 0 { return }
        let dst = try require(dst, "dst")
        let c = t.contiguous()
        dst.copyMemory(from: UnsafeRawPointer(c.storage.raw + c.offset * c.dtype.size), byteCount: bytes)
    }
}

@c @implementation public func gradus_tensor_copy_from(_ tensor: gradus_tensor?, _ src: UnsafeRawPointer?, _ capacity: Int) -> gradus_status {
    guarded { () throws(GradusError) in
        let t = try tensorArg(tensor, "tensor")
        let bytes = t.count * t.dtype.size
        guard capacity >= bytes else { throw .shapeMismatch("capacity \(capacity) bytes < \(bytes) bytes of the tensor") }
        guard t.isContiguous else { throw .invalidState("tensor is a non-contiguous view; copy into a contiguous tensor") }
        if bytes == 0 { return }
        let src = try require(src, "src")
        (t.storage.raw + t.offset * t.dtype.size).copyMemory(from: src, byteCount: bytes)
    }
}
