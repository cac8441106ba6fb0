// Parallel / orthogonal decomposition of a vector v onto a direction u, per reduction group.
//
// Shared by guidance (APG: GradusDiffusion), ⊥Grad and AdamP (GradusOptim). It sits in GradusTensor because
// GradusOptim is below GradusDiffusion; it depends on nothing from Tensor: plain row-major raw buffers.
//
// Layout: a flat buffer of `outer · extent · inner` elements, element (o, e, i) at `(o·extent + e)·inner + i`.
// One group per (o, i); reductions run over e. Examples:
//   APG default, x: (B, C, H, W), dims all non-batch  -> outer B, extent C·H·W, inner 1
//   APG norm_dim [1], x: (B, T, C)                    -> outer B, extent T,     inner C
//   AdamP channel-wise, w: (O, I, kH, kW)             -> outer O, extent I·kH·kW, inner 1
//   ⊥Grad / AdamP layer-wise                          -> outer 1, extent count, inner 1
// Statistics (dot products, squared norms) are accumulated in Double whatever the scalar type, and the
// projection coefficient is applied in Double, as the diffusers reference does ("computed in float64").
import _GradusShims
import GradusRuntime

/// How a flat row-major buffer splits into reduction groups: `outer × extent × inner`, reducing over `extent`.
public struct ProjectionLayout: Sendable, Equatable, CustomStringConvertible {
    /// Number of leading blocks (product of the axes before the reduced ones).
    public let outer: Int
    /// Number of elements reduced per group (product of the reduced axes).
    public let extent: Int
    /// Number of trailing elements (product of the axes after the reduced ones); stride of the reduced axis.
    public let inner: Int

    /// Creates a layout from explicit sizes.
    /// - Throws: `GradusError.invalidArgument` when a size is negative or the product overflows.
    public init(outer: Int, extent: Int, inner: Int) throws(GradusError) {
        guard outer >= 0, extent >= 0, inner >= 0 else {
            throw .invalidArgument("ProjectionLayout: negative size (\(outer), \(extent), \(inner))")
        }
        let (a, o1) = outer.multipliedReportingOverflow(by: extent)
        let (_, o2) = a.multipliedReportingOverflow(by: inner)
        guard !o1, !o2 else { throw .invalidArgument("ProjectionLayout: element count overflows") }
        self.outer = outer; self.extent = extent; self.inner = inner
    }

    /// One group per row of a `(rows, length)` matrix (AdamP channel-wise, per-sample guidance).
    public static func rows(_ rows: Int, length: Int) throws(GradusError) -> ProjectionLayout {
        try ProjectionLayout(outer: rows, extent: length, inner: 1)
    }

    /// The layout reducing a tensor of `shape` over `dims`.
    ///
    /// - Parameters:
    ///   - shape: row-major shape, rank ≥ 1.
    ///   - dims: axes to reduce (negative axes count from the end). `nil` means every axis but the first
    ///     (the per-sample reduction of guidance). The axes must be contiguous once sorted (e.g. `[1]`,
    ///     `[1, 2, 3]`, `[-1, -2]`).
    /// - Throws: `GradusError.invalidArgument` for out-of-range or repeated axes, `GradusError.unsupported` for
    ///   non-contiguous axes such as `[1, 3]` (permute the tensor first).
    public init(shape: [Int], dims: [Int]?) throws(GradusError) {
        let rank = shape.count
        guard rank >= 1 else { throw .invalidArgument("ProjectionLayout: rank-0 shape") }
        for d in shape where d < 0 { throw .invalidArgument("ProjectionLayout: negative dimension in \(shape)") }
        var axes: [Int]
        if let dims {
            axes = []
            for d in dims {
                let a = d < 0 ? d + rank : d
                guard a >= 0, a < rank else { throw .invalidArgument("ProjectionLayout: axis \(d) out of range for rank \(rank)") }
                guard !axes.contains(a) else { throw .invalidArgument("ProjectionLayout: axis \(d) repeated") }
                axes.append(a)
            }
            guard !axes.isEmpty else { throw .invalidArgument("ProjectionLayout: empty axis list") }
            axes.sort()
        } else {
            axes = rank == 1 ? [0] : Array(1..<rank)
        }
        guard axes.last! - axes.first! + 1 == axes.count else {
            throw .unsupported("ProjectionLayout: non-contiguous reduction axes \(axes); permute the tensor first")
        }
        var outer = 1, extent = 1, inner = 1
        var overflow = false
        for (a, n) in shape.enumerated() {
            let o: Bool
            if a < axes.first! { (outer, o) = outer.multipliedReportingOverflow(by: n) }
            else if a <= axes.last! { (extent, o) = extent.multipliedReportingOverflow(by: n) }
            else { (inner, o) = inner.multipliedReportingOverflow(by: n) }
            overflow = overflow || o
        }
        guard !overflow else { throw .invalidArgument("ProjectionLayout: element count overflows for \(shape)") }
        try self.init(outer: outer, extent: extent, inner: inner)
    }

    /// Number of groups (`outer · inner`).
    @inlinable public var groupCount: Int { outer &* inner }
    /// Number of elements (`outer · extent · inner`).
    @inlinable public var count: Int { outer &* extent &* inner }

    public var description: String { "ProjectionLayout(outer: \(outer), extent: \(extent), inner: \(inner))" }
}

/// How a direction's norm is protected against zero before dividing by it.
public enum NormFloor: Sendable, Equatable {
    /// `max(‖u‖, ε)`: `torch.nn.functional.normalize` (APG uses ε = 1e-12).
    case clamp(Double)
    /// `‖u‖ + ε`: AdamP's `_projection`.
    case add(Double)
    /// `√(‖u‖² + ε)`: ⊥Grad's `w·g/(w·w + ε)` (ε = 1e-30).
    case addSquared(Double)

    /// The protected norm for a squared norm `n2`.
    @inlinable @inline(__always)
    public func norm(squared n2: Double) -> Double {
        switch self {
        case .clamp(let eps): return max(gradus_sqrt(n2), eps)
        case .add(let eps): return gradus_sqrt(n2) + eps
        case .addSquared(let eps): return gradus_sqrt(n2 + eps)
        }
    }

    /// The square of the protected norm (exact for `.addSquared`: no square root is taken).
    @inlinable @inline(__always)
    public func normSquared(squared n2: Double) -> Double {
        if case .addSquared(let eps) = self { return n2 + eps }
        let n = norm(squared: n2)
        return n * n
    }
}

/// Raw-buffer kernels for per-group dot products, norms and the parallel/orthogonal decomposition.
/// All pointers must hold `layout.count` elements (group outputs: `layout.groupCount`); `v`/`out` may alias
/// where stated. Callers validate sizes at their boundary; these kernels do not check.
public enum Projection {
    /// Per-group inner products: `into[g] = Σ_e a[o,e,i]·b[o,e,i]` for `g = o·inner + i` (Double accumulation).
    /// Passing the same pointer twice gives squared norms.
    // a, b: (outer, extent, inner) -> into: (outer, inner)
    @inlinable
    public static func groupDots<T: BinaryFloatingPoint>(
        _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, layout: ProjectionLayout, into: UnsafeMutablePointer<Double>
    ) {
        let outer = layout.outer, extent = layout.extent, inner = layout.inner
        if inner == 1 {
            for o in 0..<outer { into[o] = dot(a + o &* extent, b + o &* extent, count: extent) }
            return
        }
        into.initialize(repeating: 0, count: outer &* inner)
        for o in 0..<outer {
            let acc = into + o &* inner
            for e in 0..<extent {
                let base = (o &* extent &+ e) &* inner
                let pa = a + base, pb = b + base
                for i in 0..<inner { acc[i] += Double(pa[i]) * Double(pb[i]) }
            }
        }
    }

    /// `Σ a·b` over `count` contiguous elements, in Double with eight independent partial sums (a single running
    /// sum is latency-bound and cannot vectorise under strict floating-point ordering).
    @inlinable
    public static func dot<T: BinaryFloatingPoint>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, count n: Int) -> Double {
        if T.self == Float.self {
            return dotFloat(UnsafeRawPointer(a).assumingMemoryBound(to: Float.self),
                            UnsafeRawPointer(b).assumingMemoryBound(to: Float.self), count: n)
        }
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0, s5 = 0.0, s6 = 0.0, s7 = 0.0
        var i = 0
        while i &+ 8 <= n {
            s0 += Double(a[i]) * Double(b[i]); s1 += Double(a[i &+ 1]) * Double(b[i &+ 1])
            s2 += Double(a[i &+ 2]) * Double(b[i &+ 2]); s3 += Double(a[i &+ 3]) * Double(b[i &+ 3])
            s4 += Double(a[i &+ 4]) * Double(b[i &+ 4]); s5 += Double(a[i &+ 5]) * Double(b[i &+ 5])
            s6 += Double(a[i &+ 6]) * Double(b[i &+ 6]); s7 += Double(a[i &+ 7]) * Double(b[i &+ 7])
            i &+= 8
        }
        while i < n { s0 += Double(a[i]) * Double(b[i]); i &+= 1 }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    }

    /// Float fast path of `dot`: widen 4 lanes at a time to `SIMD4<Double>` and accumulate in one vector (two
    /// SSE registers, so two independent chains). The lane scheme is `dotsFloat`'s, so both agree bit for bit.
    @inlinable
    public static func dotFloat(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> Double {
        var acc = SIMD4<Double>()
        var i = 0
        while i &+ 4 <= n {
            let x = SIMD4<Double>(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD4<Float>.self))
            let y = SIMD4<Double>(UnsafeRawPointer(b + i).loadUnaligned(as: SIMD4<Float>.self))
            acc += x * y
            i &+= 4
        }
        var tail = 0.0
        while i < n { tail += Double(a[i]) * Double(b[i]); i &+= 1 }
        return acc.sum() + tail
    }

    /// `(Σ v·u, Σ u·u)` in one pass over memory (same partial-sum scheme as `dot`).
    @inlinable
    public static func dotAndNormSquared<T: BinaryFloatingPoint>(_ v: UnsafePointer<T>, _ u: UnsafePointer<T>, count n: Int) -> (dot: Double, uu: Double) {
        if T.self == Float.self {
            let s = dotsFloat(UnsafeRawPointer(v).assumingMemoryBound(to: Float.self),
                              UnsafeRawPointer(u).assumingMemoryBound(to: Float.self), count: n, withVV: false)
            return (s.dot, s.uu)
        }
        var d0 = 0.0, d1 = 0.0, d2 = 0.0, d3 = 0.0, q0 = 0.0, q1 = 0.0, q2 = 0.0, q3 = 0.0
        var i = 0
        while i &+ 4 <= n {
            let u0 = Double(u[i]), u1 = Double(u[i &+ 1]), u2 = Double(u[i &+ 2]), u3 = Double(u[i &+ 3])
            d0 += Double(v[i]) * u0; d1 += Double(v[i &+ 1]) * u1; d2 += Double(v[i &+ 2]) * u2; d3 += Double(v[i &+ 3]) * u3
            q0 += u0 * u0; q1 += u1 * u1; q2 += u2 * u2; q3 += u3 * u3
            i &+= 4
        }
        while i < n { let x = Double(u[i]); d0 += Double(v[i]) * x; q0 += x * x; i &+= 1 }
        return ((d0 + d1) + (d2 + d3), (q0 + q1) + (q2 + q3))
    }

    /// `(Σ v·u, Σ u·u, Σ v·v)` in one pass over memory: each element of `v` and `u` is loaded once for all three
    /// sums (⊥Grad's `w·g, w·w, g·g`; AdamP's row statistics). Double accumulation; for `Float`, each sum uses
    /// the same lanes and order as `dotFloat`, so it equals `dotFloat` of the same pair bit for bit.
    // v, u: (n,)
    @inlinable
    public static func dots<T: BinaryFloatingPoint>(_ v: UnsafePointer<T>, _ u: UnsafePointer<T>, count n: Int) -> (dot: Double, uu: Double, vv: Double) {
        if T.self == Float.self {
            return dotsFloat(UnsafeRawPointer(v).assumingMemoryBound(to: Float.self),
                             UnsafeRawPointer(u).assumingMemoryBound(to: Float.self), count: n, withVV: true)
        }
        var d0 = 0.0, d1 = 0.0, d2 = 0.0, d3 = 0.0, a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
        var b0 = 0.0, b1 = 0.0, b2 = 0.0, b3 = 0.0
        var i = 0
        while i &+ 4 <= n {
            let u0 = Double(u[i]), u1 = Double(u[i &+ 1]), u2 = Double(u[i &+ 2]), u3 = Double(u[i &+ 3])
            let v0 = Double(v[i]), v1 = Double(v[i &+ 1]), v2 = Double(v[i &+ 2]), v3 = Double(v[i &+ 3])
            d0 += v0 * u0; d1 += v1 * u1; d2 += v2 * u2; d3 += v3 * u3
            a0 += u0 * u0; a1 += u1 * u1; a2 += u2 * u2; a3 += u3 * u3
            b0 += v0 * v0; b1 += v1 * v1; b2 += v2 * v2; b3 += v3 * v3
            i &+= 4
        }
        while i < n {
            let x = Double(v[i]), y = Double(u[i])
            d0 += x * y; a0 += y * y; b0 += x * x
            i &+= 1
        }
        return ((d0 + d1) + (d2 + d3), (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3))
    }

    /// Float path of `dots` (and of `dotAndNormSquared` with `withVV: false`, a constant after inlining): the
    /// `dotFloat` scheme (one `SIMD4<Double>` accumulator per sum, 4 elements per iteration) for every sum, in one
    /// loop. Three accumulators and the widened inputs fit the 16 SSE registers; wider accumulators (eight lanes
    /// per sum) spilled to the stack and ran at half the speed.
    @inlinable @inline(__always)
    public static func dotsFloat(_ v: UnsafePointer<Float>, _ u: UnsafePointer<Float>, count n: Int,
                                 withVV: Bool) -> (dot: Double, uu: Double, vv: Double) {
        var d = SIMD4<Double>(), a = SIMD4<Double>(), b = SIMD4<Double>()
        var i = 0
        while i &+ 4 <= n {
            let x = SIMD4<Double>(UnsafeRawPointer(v + i).loadUnaligned(as: SIMD4<Float>.self))
            let y = SIMD4<Double>(UnsafeRawPointer(u + i).loadUnaligned(as: SIMD4<Float>.self))
            d += x * y
            a += y * y
            if withVV { b += x * x }
            i &+= 4
        }
        var td = 0.0, ta = 0.0, tb = 0.0
        while i < n {
            let x = Double(v[i]), y = Double(u[i])
            td += x * y; ta += y * y
            if withVV { tb += x * x }
            i &+= 1
        }
        return (d.sum() + td, a.sum() + ta, b.sum() + tb)
    }

    /// Per-group statistics in one pass: `dot[g] = ⟨v, u⟩`, `uu[g] = ‖u‖²`, and (when non-nil) `vv[g] = ‖v‖²`.
    /// Enough for projections, cosine similarity (AdamP) and norm clipping.
    @inlinable
    public static func groupStatistics<T: BinaryFloatingPoint>(
        v: UnsafePointer<T>, u: UnsafePointer<T>, layout: ProjectionLayout,
        dot: UnsafeMutablePointer<Double>, uu: UnsafeMutablePointer<Double>, vv: UnsafeMutablePointer<Double>?
    ) {
        groupDots(v, u, layout: layout, into: dot)
        groupDots(u, u, layout: layout, into: uu)
        if let vv { groupDots(v, v, layout: layout, into: vv) }
    }

    /// Multiplies each group by its factor, in place: `x[o,e,i] *= factors[o·inner + i]`.
    @inlinable
    public static func scaleGroups<T: BinaryFloatingPoint>(
        _ x: UnsafeMutablePointer<T>, layout: ProjectionLayout, factors: UnsafePointer<Double>
    ) {
        let outer = layout.outer, extent = layout.extent, inner = layout.inner
        for o in 0..<outer {
            if inner == 1 {
                if factors[o] == 1 { continue }
                let f = T(factors[o])
                let p = x + o &* extent
                for e in 0..<extent { p[e] *= f }
            } else {
                for e in 0..<extent {
                    let p = x + (o &* extent &+ e) &* inner
                    let f = factors + o &* inner
                    for i in 0..<inner { p[i] = T(Double(p[i]) * f[i]) }
                }
            }
        }
    }

    /// Scales each group of `x` so that its Euclidean norm is at most `threshold`:
    /// `x ← x · min(1, threshold/‖x‖)` (APG's norm threshold; a zero norm leaves the group unchanged).
    /// - Parameter scratch: `layout.groupCount` Doubles.
    @inlinable
    public static func clipGroupNorms<T: BinaryFloatingPoint>(
        _ x: UnsafeMutablePointer<T>, layout: ProjectionLayout, threshold: Double, scratch: UnsafeMutablePointer<Double>
    ) {
        groupDots(x, x, layout: layout, into: scratch)
        for g in 0..<layout.groupCount {
            let n = gradus_sqrt(scratch[g])
            scratch[g] = n > threshold ? threshold / n : 1
        }
        scaleGroups(x, layout: layout, factors: scratch)
    }

    /// Splits `v` into its part along `u` and the remainder, per group:
    /// `parallel = ⟨v, û⟩·û`, `orthogonal = v − parallel`, with `û = u / floor(‖u‖)`.
    ///
    /// The coefficient and both parts are computed in Double and rounded once to `T`.
    /// - Parameters:
    ///   - parallel, orthogonal: outputs (either may be nil); they may alias `v` only if the other one is nil.
    ///   - scratch: `2 · layout.groupCount` Doubles.
    // v, u: (outer, extent, inner); coefficient c[g] = ⟨v,u⟩[g] / floor(‖u‖[g])²
    @inlinable
    public static func decompose<T: BinaryFloatingPoint>(
        _ v: UnsafePointer<T>, onto u: UnsafePointer<T>, layout: ProjectionLayout, floor: NormFloor = .clamp(1e-12),
        parallel: UnsafeMutablePointer<T>?, orthogonal: UnsafeMutablePointer<T>?, scratch: UnsafeMutablePointer<Double>
    ) {
        let coeff = projectionCoefficients(v, onto: u, layout: layout, floor: floor, scratch: scratch)
        let outer = layout.outer, extent = layout.extent, inner = layout.inner
        for o in 0..<outer {
            for e in 0..<extent {
                let base = (o &* extent &+ e) &* inner
                let c = coeff + o &* inner
                for i in 0..<inner {
                    let vi = Double(v[base &+ i])
                    let p = c[i] * Double(u[base &+ i])
                    parallel?[base &+ i] = T(p)
                    orthogonal?[base &+ i] = T(vi - p)
                }
            }
        }
    }

    /// Fused blend of the two parts: `out = orthogonalWeight·v⊥ + parallelWeight·v∥` (APG's `Δ = v⊥ + η·v∥`;
    /// ⊥Grad is `parallelWeight = 0`). `out` may alias `v`.
    /// - Parameter scratch: `2 · layout.groupCount` Doubles.
    @inlinable
    public static func blend<T: BinaryFloatingPoint>(
        _ v: UnsafePointer<T>, onto u: UnsafePointer<T>, layout: ProjectionLayout, floor: NormFloor = .clamp(1e-12),
        parallelWeight: Double, orthogonalWeight: Double = 1, out: UnsafeMutablePointer<T>, scratch: UnsafeMutablePointer<Double>
    ) {
        let coeff = projectionCoefficients(v, onto: u, layout: layout, floor: floor, scratch: scratch)
        let outer = layout.outer, extent = layout.extent, inner = layout.inner
        if inner == 1 {
            // contiguous groups: out = w⊥·v + (w∥ − w⊥)·c·u
            for o in 0..<outer {
                // coefficients in Double, elementwise work in T (vectorises; the rounding is T's own)
                let a = T(orthogonalWeight), b = T((parallelWeight - orthogonalWeight) * coeff[o])
                let pv = v + o &* extent, pu = u + o &* extent, po = out + o &* extent
                for e in 0..<extent { po[e] = a * pv[e] + b * pu[e] }
            }
            return
        }
        for o in 0..<outer {
            for e in 0..<extent {
                let base = (o &* extent &+ e) &* inner
                let c = coeff + o &* inner
                for i in 0..<inner {
                    let vi = Double(v[base &+ i])
                    let p = c[i] * Double(u[base &+ i])
                    out[base &+ i] = T(orthogonalWeight * (vi - p) + parallelWeight * p)
                }
            }
        }
    }

    /// `scratch[g] = ⟨v,u⟩[g] / floor(‖u‖[g])²`; returns `scratch` (uses `2 · groupCount` Doubles).
    @inlinable
    public static func projectionCoefficients<T: BinaryFloatingPoint>(
        _ v: UnsafePointer<T>, onto u: UnsafePointer<T>, layout: ProjectionLayout, floor: NormFloor,
        scratch: UnsafeMutablePointer<Double>
    ) -> UnsafeMutablePointer<Double> {
        let groups = layout.groupCount
        let dot = scratch, uu = scratch + groups
        if layout.inner == 1 {
            for o in 0..<layout.outer {
                (dot[o], uu[o]) = dotAndNormSquared(v + o &* layout.extent, u + o &* layout.extent, count: layout.extent)
            }
        } else {
            groupDots(v, u, layout: layout, into: dot)
            groupDots(u, u, layout: layout, into: uu)
        }
        for g in 0..<groups { dot[g] = coefficient(dot: dot[g], uNormSquared: uu[g], floor: floor) }
        return dot
    }

    // MARK: - Scalar pieces for block-streaming callers (optimizers that accumulate statistics block by block)

    /// The projection coefficient `⟨v,u⟩ / floor(‖u‖)²`, so that `v∥ = coefficient·u`.
    @inlinable @inline(__always)
    public static func coefficient(dot: Double, uNormSquared: Double, floor: NormFloor) -> Double {
        dot / floor.normSquared(squared: uNormSquared)
    }

    /// Adds one block's `⟨v,u⟩`, `‖u‖²` and `‖v‖²` to running Double sums, in one pass over the block (`dots`).
    // v, u: (count,)
    @inlinable
    public static func accumulate<T: BinaryFloatingPoint>(
        _ v: UnsafePointer<T>, _ u: UnsafePointer<T>, count: Int, dot: inout Double, uu: inout Double, vv: inout Double
    ) {
        let s = dots(v, u, count: count)
        dot += s.dot; uu += s.uu; vv += s.vv
    }

    /// `out = scale·(v − (1 − parallelWeight)·coefficient·u)`, i.e. `scale·(v⊥ + parallelWeight·v∥)` for a
    /// known coefficient (⊥Grad: `parallelWeight = 0`, `scale` restores ‖g‖). `out` may alias `v`.
    @inlinable
    public static func removeComponent<T: BinaryFloatingPoint>(
        _ v: UnsafePointer<T>, along u: UnsafePointer<T>, coefficient: Double, parallelWeight: Double = 0,
        scale: Double = 1, out: UnsafeMutablePointer<T>, count: Int
    ) {
        let k = T((1 - parallelWeight) * coefficient), s = T(scale)
        for i in 0..<count { out[i] = s * (v[i] - k * u[i]) }
    }
}
