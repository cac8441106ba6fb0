import Foundation
import GradusRuntime
import Testing
import _GradusTestSupport
@testable import GradusDiffusion

/// AlignProp's truncated backpropagation through a DDIM chain (guidance spec §6.3 with the DDIM step of §3.2),
/// re-implemented in float64 from the spec's text with a hand-written reverse pass (no autodiff): the reference
/// reproduces the public `alignprop/toy_chain` runs, then generates random cases in the golden format — other
/// dimensions, batch sizes, chain lengths, LoRA ranks and scales, ᾱ sequences, a final ᾱ below 1, η and truncation
/// points K — that `AlignPropConformance` (what `gradus conformance` runs) must pass in float64 and float32,
/// checkpointed and plain gradients bit-identical.
@Suite struct AlignPropReferenceTests {
    struct Problem {
        var dim: Int, batch: Int, rank: Int, alpha: Double
        var abar: [Double], finalAbar: Double
        var w0: [Double], bias: [Double], temb: [Double], a: [Double], b: [Double]  // W0 (dim×dim), A (r×dim), B (dim×r)
        var xT: [Double], target: [Double], noises: [[Double]]
        var steps: Int { abar.count }
    }

    struct Run { var loss: Double, sample: [Double], gradA: [Double], gradB: [Double] }

    /// The chain x_{i+1} = c1·x_i + c2·ε(x_i, i) + σ_i·n_i (DDIM, ε-parameterisation, §3.2), ε = x·Wᵀ + bias +
    /// temb[i] with W = W0 + (α/r)·B·A; loss mean((x_S − target)²); gradients of A and B through the last K steps'
    /// model outputs only.
    static func run(_ p: Problem, eta: Double, k: Int) -> Run {
        let d = p.dim, n = p.batch, s = p.alpha / Double(p.rank)
        var w = p.w0
        for i in 0..<d { for j in 0..<d { for q in 0..<p.rank { w[i * d + j] += s * p.b[i * p.rank + q] * p.a[q * d + j] } } }
        var xs = [p.xT], c1s: [Double] = [], c2s: [Double] = []
        for i in 0..<p.steps {
            let at = p.abar[i], ap = i + 1 < p.steps ? p.abar[i + 1] : p.finalAbar
            let sigma = eta * ((1 - ap) / (1 - at)).squareRoot() * (1 - at / ap).squareRoot()
            let c1 = ap.squareRoot() / at.squareRoot()
            let c2 = -ap.squareRoot() * (1 - at).squareRoot() / at.squareRoot() + (1 - ap - sigma * sigma).squareRoot()
            c1s.append(c1); c2s.append(c2)
            let x = xs[i]
            var next = x
            for r in 0..<n {
                for o in 0..<d {
                    var e = p.bias[o] + p.temb[i * d + o]
                    for j in 0..<d { e += x[r * d + j] * w[o * d + j] }
                    next[r * d + o] = c1 * x[r * d + o] + c2 * e + (eta > 0 ? sigma * p.noises[i][r * d + o] : 0)
                }
            }
            xs.append(next)
        }
        let final = xs[p.steps], count = Double(n * d)
        let loss = zip(final, p.target).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / count
        var g = zip(final, p.target).map { 2 * ($0 - $1) / count }
        var dw = [Double](repeating: 0, count: d * d)
        for i in stride(from: p.steps - 1, through: 0, by: -1) {
            let x = xs[i], tracked = i >= p.steps - k
            var prev = g.map { c1s[i] * $0 }
            if tracked {
                for r in 0..<n {
                    for o in 0..<d {
                        let ge = c2s[i] * g[r * d + o]
                        for j in 0..<d {
                            dw[o * d + j] += ge * x[r * d + j]
                            prev[r * d + j] += ge * w[o * d + j]
                        }
                    }
                }
            }
            g = prev
        }
        var ga = [Double](repeating: 0, count: p.rank * d), gb = [Double](repeating: 0, count: d * p.rank)
        for q in 0..<p.rank {
            for j in 0..<d { for o in 0..<d { ga[q * d + j] += s * p.b[o * p.rank + q] * dw[o * d + j] } }
            for o in 0..<d { for j in 0..<d { gb[o * p.rank + q] += s * dw[o * d + j] * p.a[q * d + j] } }
        }
        return Run(loss: loss, sample: final, gradA: ga, gradB: gb)
    }

    static func problem(from c: JSON) throws -> Problem {
        let params = try #require(c["params"]), inputs = try #require(c["inputs"])
        func data(_ key: String) throws -> [Double] { try #require(inputs[key]?["data"]?.flatDoubles) }
        return Problem(dim: params["dim"]!.int!, batch: params["batch"]!.int!, rank: params["lora_rank"]!.int!,
                       alpha: params["lora_alpha"]!.double!, abar: params["alphas_cumprod"]!.flatDoubles!,
                       finalAbar: params["final_alpha_cumprod"]?.double ?? 1,
                       w0: try data("W0"), bias: try data("bias"), temb: try data("time_embedding"), a: try data("lora_A"),
                       b: try data("lora_B"), xT: try data("x_T"), target: try data("target"),
                       noises: try #require(inputs["ddim_noises"]?.array).map { try #require($0["data"]?.flatDoubles) })
    }

    static func caseJSON(_ p: Problem, id: String, etas: [Double], ks: [Int]) -> JSON {
        let d = p.dim, n = p.batch
        var runs: [JSON] = []
        for eta in etas {
            for k in ks {
                let r = run(p, eta: eta, k: k)
                runs.append(.object(["eta": .number(eta), "K": .number(Double(k)), "loss": .number(r.loss),
                                     "final_sample": goldenTensor([n, d], r.sample), "grad_lora_A": goldenTensor([p.rank, d], r.gradA),
                                     "grad_lora_B": goldenTensor([d, p.rank], r.gradB)]))
            }
        }
        func numbers(_ xs: [Double]) -> JSON { .array(xs.map { .number($0) }) }
        return .object([
            "id": .string(id), "op": .string("alignprop_truncated_backprop"),
            "params": .object(["dim": .number(Double(d)), "batch": .number(Double(n)), "steps": .number(Double(p.steps)),
                               "lora_rank": .number(Double(p.rank)), "lora_alpha": .number(p.alpha),
                               "alphas_cumprod": numbers(p.abar), "final_alpha_cumprod": .number(p.finalAbar),
                               "Ks": numbers(ks.map(Double.init)), "etas": numbers(etas)]),
            "inputs": .object(["W0": goldenTensor([d, d], p.w0), "bias": goldenTensor([d], p.bias),
                               "time_embedding": goldenTensor([p.steps, d], p.temb), "lora_A": goldenTensor([p.rank, d], p.a),
                               "lora_B": goldenTensor([d, p.rank], p.b), "x_T": goldenTensor([n, d], p.xT),
                               "target": goldenTensor([n, d], p.target),
                               "ddim_noises": .array(p.noises.map { goldenTensor([n, d], $0) })]),
            "outputs": .object(["runs": .array(runs)]),
            "tol": .object(["rtol": .number(5e-4), "atol": .number(1e-5)]),
        ])
    }

    @Test func referenceReproducesThePublicCase() throws {
        let c = try #require(AlignPropTests.cases(op: AlignPropConformance.op).first)
        let p = try Self.problem(from: c)
        let runs = try #require(c["outputs"]?["runs"]?.array)
        #expect(runs.count == 6)
        for run in runs {
            let r = Self.run(p, eta: run["eta"]!.double!, k: run["K"]!.int!)
            func close(_ got: [Double], _ key: String) throws {
                let want = try #require(run[key]?["data"]?.flatDoubles)
                #expect(got.count == want.count)
                for (a, b) in zip(got, want) { #expect(abs(a - b) <= 1e-12 + 1e-9 * abs(b), "\(key) η \(run["eta"]!) K \(run["K"]!): \(a) vs \(b)") }
            }
            #expect(abs(r.loss - run["loss"]!.double!) <= 1e-9 * abs(run["loss"]!.double!))
            try close(r.sample, "final_sample")
            try close(r.gradA, "grad_lora_A")
            try close(r.gradB, "grad_lora_B")
        }
    }

    @Test(arguments: [GuidanceConformance.Precision.float64, .float32])
    func libraryMatchesReferenceOnRandomCases(_ precision: GuidanceConformance.Precision) throws {
        var r = RandomDraws(seed: 0xA119)
        var finalBelowOne = 0, partialK = 0
        for draw in 0..<30 {
            let d = r.int(1, 6), n = r.int(1, 4), steps = r.int(1, 8), rank = r.int(1, 3)
            // ᾱ increasing from the noisiest step, as a spaced schedule gives them
            var abar = (0..<steps).map { _ in r.uniform(0.02, 0.98) }.sorted()
            if Set(abar).count < steps { abar = (0..<steps).map { 0.05 + 0.9 * Double($0 + 1) / Double(steps + 1) } }
            let finalAbar = r.int(0, 2) == 0 ? r.uniform(abar.last!, 1) : 1
            if finalAbar < 1 { finalBelowOne += 1 }
            func values(_ count: Int, _ scale: Double) -> [Double] { (0..<count).map { _ in Double(Float(r.uniform(-1, 1) * scale)) } }
            let p = Problem(dim: d, batch: n, rank: rank, alpha: [Double(rank), r.uniform(0.5, 8)][r.int(0, 1)], abar: abar,
                            finalAbar: finalAbar, w0: values(d * d, 0.5), bias: values(d, 0.3), temb: values(steps * d, 0.6),
                            a: values(rank * d, 0.5), b: values(d * rank, 0.5), xT: values(n * d, 2), target: values(n * d, 2),
                            noises: (0..<steps).map { _ in values(n * d, 2) })
            let etas = [0, r.uniform(0.2, 1)], ks = Array(Set([1, steps, r.int(1, steps)])).sorted()
            if ks.contains(where: { $0 > 1 && $0 < steps }) { partialK += 1 }
            let c = Self.caseJSON(p, id: "alignprop/random_\(draw)", etas: etas, ks: ks)
            let result = try #require(try AlignPropConformance.run(case: c, precision: precision))
            #expect(result.compared >= 4 * ks.count * etas.count, "draw \(draw): \(result.compared) values compared")
            #expect(result.status == .pass, "draw \(draw) \(precision): dim \(d) batch \(n) steps \(steps) rank \(rank) ᾱ \(abar) final \(finalAbar): \(result)")
        }
        #expect(finalBelowOne > 5 && partialK > 5, "final ᾱ < 1 in \(finalBelowOne) draws, 1 < K < S in \(partialK)")
    }

    /// A perturbed gradient must fail the case (the comparison can fail).
    @Test func perturbedGradientFails() throws {
        var r = RandomDraws(seed: 0xA11A)
        func values(_ count: Int) -> [Double] { (0..<count).map { _ in r.uniform(-0.5, 0.5) } }
        let p = Problem(dim: 3, batch: 2, rank: 2, alpha: 2, abar: [0.1, 0.4, 0.8], finalAbar: 1, w0: values(9), bias: values(3),
                        temb: values(9), a: values(6), b: values(6), xT: values(6), target: values(6), noises: [values(6), values(6), values(6)])
        let c = Self.caseJSON(p, id: "alignprop/perturbed", etas: [0.5], ks: [2])
        #expect(try AlignPropConformance.run(case: c)?.status == .pass)
        guard case .object(var top) = c, case .object(var outputs)? = top["outputs"], case .array(var runs)? = outputs["runs"],
              case .object(var run) = runs[0], case .object(var ga)? = run["grad_lora_A"], case .array(var data)? = ga["data"],
              let x = data[0].double else { Issue.record("malformed case"); return }
        data[0] = .number(x * 1.01 + 1e-4); ga["data"] = .array(data); run["grad_lora_A"] = .object(ga); runs[0] = .object(run)
        outputs["runs"] = .array(runs); top["outputs"] = .object(outputs)
        #expect(try AlignPropConformance.run(case: .object(top))?.status != .pass)
    }
}
