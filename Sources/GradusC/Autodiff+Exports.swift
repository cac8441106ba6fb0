// Section "Autodiff" of include/gradus.h.
import Glibc
import Gradus
import _GradusShims

@c @implementation public func gradus_tensor_set_requires_grad(_ x: gradus_tensor?, _ flag: Int32) -> gradus_status {
    guarded { () throws(GradusError) in try tensorArg(x, "x").requiresGrad = flag != 0 }
}

@c @implementation public func gradus_tensor_requires_grad(_ x: gradus_tensor?, _ out: UnsafeMutablePointer<Int32>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try require(out, "out")
        out.pointee = 0
        out.pointee = try tensorArg(x, "x").requiresGrad ? 1 : 0
    }
}

@c @implementation public func gradus_tensor_backward(_ loss: gradus_tensor?) -> gradus_status {
    guarded { () throws(GradusError) in
        let loss = try tensorArg(loss, "loss")
        guard loss.count == 1 else { throw .shapeMismatch("backward needs a one-element loss, got shape \(loss.shape)") }
        guard loss.requiresGrad else { throw .invalidState("loss does not require gradients (no parameter in its graph)") }
        try loss.backward()
    }
}

@c @implementation public func gradus_tensor_grad(_ x: gradus_tensor?, _ out: UnsafeMutablePointer<gradus_tensor?>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        if let g = try tensorArg(x, "x").grad { emit(g, out) }
    }
}

@c @implementation public func gradus_tensor_set_grad(_ x: gradus_tensor?, _ grad: gradus_tensor?) -> gradus_status {
    guarded { () throws(GradusError) in
        let x = try tensorArg(x, "x")
        guard grad != nil else { x.grad = nil; return }
        let g = try tensorArg(grad, "grad")
        guard g.shape == x.shape else { throw .shapeMismatch("grad is \(g.shape), tensor is \(x.shape)") }
        guard g.dtype == x.dtype else { throw .dtypeMismatch("grad is \(g.dtype), tensor is \(x.dtype)") }
        x.grad = g
    }
}

@c @implementation public func gradus_tensor_detach(_ x: gradus_tensor?, _ out: UnsafeMutablePointer<gradus_tensor?>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        emit(try tensorArg(x, "x").detached(), out)
    }
}

@c @implementation public func gradus_no_grad_begin() { GradMode.pushDisabled() }

@c @implementation public func gradus_no_grad_end() -> gradus_status {
    guarded { () throws(GradusError) in
        guard !GradMode.isEnabled else { throw .invalidState("gradus_no_grad_end without gradus_no_grad_begin on this thread") }
        GradMode.popDisabled()
    }
}

@c @implementation public func gradus_grad_is_enabled(_ out: UnsafeMutablePointer<Int32>?) -> gradus_status {
    guarded { () throws(GradusError) in
        try require(out, "out").pointee = GradMode.isEnabled ? 1 : 0
    }
}

// MARK: - Tapes

@c @implementation public func gradus_tape_create(_ out: UnsafeMutablePointer<gradus_tape?>?) -> gradus_status {
    guarded { () throws(GradusError) in
        let out = try outArg(out)
        out.pointee = HandleRegistry.shared.add(TapeBox())
    }
}

@c @implementation public func gradus_tape_destroy(_ tape: gradus_tape?) -> gradus_status {
    guarded { () throws(GradusError) in
        guard tape != nil else { return }
        let box = try HandleRegistry.shared.get(tape, as: TapeBox.self, "tape")
        if let thread = box.activeThread {
            guard pthread_equal(thread, pthread_self()) != 0 else {
                throw .invalidState("the tape is active on another thread; end it there first")
            }
            ActiveTape.current = nil
            box.activeThread = nil
        }
        HandleRegistry.shared.remove(tape, as: TapeBox.self)
    }
}

@c @implementation public func gradus_tape_begin(_ tape: gradus_tape?) -> gradus_status {
    guarded { () throws(GradusError) in
        let box = try HandleRegistry.shared.get(tape, as: TapeBox.self, "tape")
        guard ActiveTape.current == nil else { throw .invalidState("a tape is already active on this thread") }
        guard box.activeThread == nil else { throw .invalidState("the tape is active on another thread") }
        ActiveTape.current = box
        box.activeThread = pthread_self()
    }
}

@c @implementation public func gradus_tape_end(_ tape: gradus_tape?) -> gradus_status {
    guarded { () throws(GradusError) in
        let box = try HandleRegistry.shared.get(tape, as: TapeBox.self, "tape")
        guard let current = ActiveTape.current, current === box else { throw .invalidState("this tape is not active on this thread") }
        ActiveTape.current = nil
        box.activeThread = nil
    }
}

@c @implementation public func gradus_tape_reset(_ tape: gradus_tape?) -> gradus_status {
    guarded { () throws(GradusError) in
        let box = try HandleRegistry.shared.get(tape, as: TapeBox.self, "tape")
        let handles = box.handles
        box.handles = []
        let r = HandleRegistry.shared
        for h in handles {
            _ = r.remove(h, as: Tensor.self) || r.remove(h, as: ModelBox.self) || r.remove(h, as: DatasetBox.self)
                || r.remove(h, as: OptimizerBox.self) || r.remove(h, as: NoiseScheduleBox.self)
        }
    }
}
