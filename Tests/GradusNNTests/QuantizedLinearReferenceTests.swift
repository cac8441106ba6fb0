import Foundation
import GradusNN
import GradusQuant
import GradusRuntime
import GradusTensor
import Testing
import _GradusTestSupport

/// Stable-SPAM's quantized linear layer (spec §2.2 INT and §2.3 "FP4") checked on random layers against a float64
/// reference written from the spec (`LowBitReference`): weights asymmetric per group or on the 9-level grid,
/// inputs with the top-k outliers kept, `y = x̂·Ŵᵀ + b`, `∂x = G·Ŵ`, `∂W = Gᵀ·x̂`, `∂b = ΣG`. Other bit widths, group
/// sizes, k and shapes than the golden file's two cases, through the layer users train with (`QuantizedLinear`:
/// quantizers, autograd and GEMMs), in float64 and float32.
@Suite struct QuantizedLinearReferenceTests {
    /// `y = x̂·Ŵᵀ + b` and the three gradients for `G`; x̂ (B, I), Ŵ (O, I), G (B, O).
    static func linear(_ xq: [Double], _ wq: [Double], _ bias: [Double], _ g: [Double], batch: Int, inF: Int, outF: Int)
        -> (y: [Double], gx: [Double], gw: [Double], gb: [Double]) {
        var y = [Double](repeating: 0, count: batch * outF), gx = [Double](repeating: 0, count: batch * inF)
        var gw = [Double](repeating: 0, count: outF * inF), gb = [Double](repeating: 0, count: outF)
        for b in 0..<batch {
            for o in 0..<outF {
                var s = bias[o]
                for i in 0..<inF { s += xq[b * inF + i] * wq[o * inF + i] }
                y[b * outF + o] = s
                let go = g[b * outF + o]
                gb[o] += go
                for i in 0..<inF { gx[b * inF + i] += go * wq[o * inF + i]; gw[o * inF + i] += go * xq[b * inF + i] }
            }
        }
        return (y, gx, gw, gb)
    }

    @Test(arguments: [DType.float64, .float32])
    func randomLayersMatchTheSpec(dtype: DType) throws {
        var r = RandomDraws(seed: 0x9117)
        // float32: the GEMMs accumulate up to 64 products in float32
        let (rtol, atol) = dtype == .float64 ? (1e-9, 1e-12) : (1e-4, 1e-5)
        var kinds = (int: 0, fp4: 0)
        for draw in 0..<40 {
            let fp4 = r.coin(), g = [4, 8, 16][r.int(0, 2)], inF = g * r.int(1, 4), outF = r.int(1, 6), batch = r.int(1, 5)
            let bits = r.int(2, 8), k = min(r.int(0, 3), g - 1)
            let grid: (Double, Double) = (-4, 4)
            var x: [Double] = [], w: [Double] = [], xq: [Double] = [], wq: [Double] = [], near = true
            while near {
                x = (0..<(batch * inF)).map { _ in Double(Float(r.uniform(-2, 2))) }
                w = (0..<(outF * inF)).map { _ in Double(Float(r.uniform(-0.5, 0.5))) }
                let a = fp4 ? LowBitReference.topK(x, noise: nil, bits: 4, g: g, k: k, levels: grid)
                            : LowBitReference.topK(x, noise: nil, bits: bits, g: g, k: k)
                xq = a.deq
                if fp4 {
                    let q = LowBitReference.topK(w, noise: nil, bits: 4, g: g, k: k, levels: grid)
                    wq = q.deq; near = a.nearTie || q.nearTie
                } else {
                    let q = LowBitReference.intQuant(w, groups: LowBitReference.consecutiveGroups(count: w.count, size: g), bits: bits,
                                                     symmetric: false, noise: nil)
                    wq = q.dequantized; near = a.nearTie || q.nearTie
                }
            }
            let bias = (0..<outF).map { _ in Double(Float(r.uniform(-1, 1))) }
            let gOut = (0..<(batch * outF)).map { _ in Double(Float(r.uniform(-1, 1))) }
            let ref = Self.linear(xq, wq, bias, gOut, batch: batch, inF: inF, outF: outF)

            let quantization = fp4
                ? LayerQuantization(weights: .stableSPAMFP4(groupSize: g, topK: k), activations: .stableSPAMFP4(groupSize: g, topK: k))
                : LayerQuantization(weights: .fake(QuantConfig(bits: bits, symmetric: false, granularity: .perGroup(size: g))),
                                    activations: .outlierKeeping(bits: bits, groupSize: g, topK: k))
            if fp4 { kinds.fp4 += 1 } else { kinds.int += 1 }
            let layer = try QuantizedLinear(inF, outF, quantization: quantization, dtype: dtype)
            GradMode.withoutGrad {
                Kernels.copy(from: try! Tensor.make(shape: [outF, inF], scalars: w, dtype: dtype), to: layer.linear.weight)
                Kernels.copy(from: try! Tensor.make(shape: [outF], scalars: bias, dtype: dtype), to: layer.linear.bias!)
            }
            let input = try Tensor.make(shape: [batch, inF], scalars: x, dtype: dtype).requiringGrad()
            let y = try layer(input)
            try y.backward(gradient: try Tensor.make(shape: [batch, outF], scalars: gOut, dtype: dtype))
            let label = "draw \(draw) \(dtype) \(fp4 ? "fp4" : "int\(bits)") g \(g) k \(k) [\(batch), \(inF)] → \(outF)"
            for (name, got, want) in [("y", y, ref.y), ("∂x", input.grad, ref.gx), ("∂W", layer.linear.weight.grad, ref.gw),
                                      ("∂b", layer.linear.bias!.grad, ref.gb)] as [(String, Tensor?, [Double])] {
                let v = got?.scalars(as: Double.self) ?? []
                #expect(v.count == want.count, "\(label) \(name) count")
                let worst = zip(v, want).map { abs($0 - $1) - (atol + rtol * abs($1)) }.max() ?? 0
                #expect(worst <= 0, "\(label) \(name): exceeds tolerance by \(worst)")
            }
        }
        #expect(kinds.int > 10 && kinds.fp4 > 10)
    }
}
