import Foundation
import GradusDiffusion
import GradusRuntime
import Testing
import _GradusTestSupport

/// Spec §2 (conversions from a model output), §3.1 (DDPM step, fixed_small variance, optional x̂₀ clipping) and
/// §3.2 (DDIM step with η) re-implemented in float64 from the spec's text, and used to generate random cases in the
/// golden format (other ᾱ pairs over the whole range, all three parameterisations, clip ranges, η, the last step)
/// that the library must pass through `GuidanceConformance` in float64 and float32, at the golden tolerance.
@Suite struct SamplerReferenceTests {
    enum Kind: String, CaseIterable { case epsilon, v_prediction, sample }

    /// (x̂₀, ε̂) from model output `m` at `x_t` with `a = √ᾱ`, `s = √(1 − ᾱ)`.
    static func convert(_ m: Double, _ x: Double, _ kind: Kind, abar: Double) -> (x0: Double, eps: Double) {
        let a = abar.squareRoot(), s = (1 - abar).squareRoot()
        switch kind {
        case .epsilon: return ((x - s * m) / a, m)
        case .v_prediction: return (a * x - s * m, a * m + s * x)
        case .sample: return (m, (x - a * m) / s)
        }
    }

    static func ddpm(m: [Double], x: [Double], z: [Double], kind: Kind, t: Int, abarT: Double, abarPrev: Double, clip: Double?)
        -> (prev: [Double], x0: [Double], variance: Double) {
        let beta = 1 - abarT / abarPrev, alpha = 1 - beta
        let c0 = abarPrev.squareRoot() * beta / (1 - abarT), ct = alpha.squareRoot() * (1 - abarPrev) / (1 - abarT)
        let variance = max((1 - abarPrev) / (1 - abarT) * beta, 1e-20), sigma = variance.squareRoot()
        var x0: [Double] = [], prev: [Double] = []
        for i in x.indices {
            var p = convert(m[i], x[i], kind, abar: abarT).x0
            if let clip { p = min(max(p, -clip), clip) }
            x0.append(p)
            prev.append(c0 * p + ct * x[i] + (t > 0 ? sigma * z[i] : 0))
        }
        return (prev, x0, variance)
    }

    static func ddim(m: [Double], x: [Double], z: [Double], kind: Kind, abarT: Double, abarPrev: Double, eta: Double)
        -> (prev: [Double], x0: [Double], std: Double) {
        let std = eta * ((1 - abarPrev) / (1 - abarT) * (1 - abarT / abarPrev)).squareRoot()
        let dir = (1 - abarPrev - std * std).squareRoot()
        var x0: [Double] = [], prev: [Double] = []
        for i in x.indices {
            let (p, e) = convert(m[i], x[i], kind, abar: abarT)
            x0.append(p)
            prev.append(abarPrev.squareRoot() * p + dir * e + (eta > 0 ? std * z[i] : 0))
        }
        return (prev, x0, std)
    }

    /// The reference reproduces the public DDPM and DDIM cases (float64 tolerance of the file).
    @Test func referenceReproducesPublicCases() throws {
        let doc = try loadGuidanceGolden()
        var seen = 0
        for c in doc["cases"]!.array! {
            let op = c["op"]?.string
            guard op == "ddpm_step" || op == "ddim_step" else { continue }
            let p = c["params"]!, inp = c["inputs"]!, out = c["outputs"]!, id = c["id"]!.string!
            let m = inp["model_output"]!["data"]!.flatDoubles!, x = inp["sample"]!["data"]!.flatDoubles!
            let z = inp["variance_noise"]!["data"]!.flatDoubles!, kind = Kind(rawValue: p["prediction_type"]!.string!)!
            let abarT = inp["alpha_cumprod_t"]!.double!, abarPrev = inp["alpha_cumprod_prev"]!.double!
            var got: [(String, [Double])] = []
            if op == "ddpm_step" {
                let clip = p["clip_sample"]?.bool == true ? p["clip_sample_range"]!.double! : nil
                let r = Self.ddpm(m: m, x: x, z: z, kind: kind, t: p["t"]!.int!, abarT: abarT, abarPrev: abarPrev, clip: clip)
                got = [("prev_sample", r.prev), ("pred_original_sample", r.x0), ("variance", [r.variance])]
            } else {
                let r = Self.ddim(m: m, x: x, z: z, kind: kind, abarT: abarT, abarPrev: abarPrev, eta: p["eta"]!.double!)
                got = [("prev_sample", r.prev), ("pred_original_sample", r.x0), ("std_dev_t", [r.std])]
            }
            for (key, v) in got {
                let want = out[key]!["data"]?.flatDoubles ?? [out[key]!.double!]
                for i in want.indices { #expect(abs(v[i] - want[i]) <= 1e-9 * max(1, abs(want[i])), "\(id) \(key)[\(i)]: \(v[i]) vs \(want[i])") }
            }
            seen += 1
        }
        #expect(seen == 10)
    }

    @Test func libraryMatchesReferenceOnRandomCases() throws {
        var r = RandomDraws(seed: 0xDD1)
        let tol: JSON = .object(["rtol": .number(1e-5), "atol": .number(1e-6)])
        func normal() -> Double { Double(Float(r.uniform(-1, 1) + r.uniform(-1, 1) + r.uniform(-1, 1))) }
        for draw in 0..<120 {
            let shape = [r.int(1, 2), r.int(1, 3), r.int(1, 4), r.int(1, 4)], n = shape.reduce(1, *)
            let kind = Kind.allCases[r.int(0, 2)]
            // ᾱ_t from 1e-4 (t near T with the linear schedule) to 0.9999; ᾱ' above it, or 1 (the last step)
            let abarT = Double(Float(r.logUniform(1e-4, 0.9999)))
            let last = r.int(0, 5) == 0
            let abarPrev = last ? 1 : Double(Float(abarT + (1 - abarT) * r.uniform(0.001, 0.5)))
            let t = last ? r.int(0, 40) : r.int(1, 999)
            let x = (0..<n).map { _ in normal() }, m = (0..<n).map { _ in normal() }, z = (0..<n).map { _ in normal() }
            let inputs: [String: JSON] = ["sample": goldenTensor(shape, x), "model_output": goldenTensor(shape, m),
                                          "variance_noise": goldenTensor(shape, z),
                                          "alpha_cumprod_t": .number(abarT), "alpha_cumprod_prev": .number(abarPrev)]
            // DDPM
            do {
                let clip: Double? = r.coin() ? r.uniform(0.5, 3) : nil
                let ref = Self.ddpm(m: m, x: x, z: z, kind: kind, t: t, abarT: abarT, abarPrev: abarPrev, clip: clip)
                func make(_ prev: [Double]) -> JSON {
                    .object([
                        "id": .string("ddpm_step/random/\(draw)"), "op": .string("ddpm_step"),
                        "params": .object(["num_train_timesteps": .number(1000), "beta_schedule": .string("linear"),
                                           "prediction_type": .string(kind.rawValue), "clip_sample": .bool(clip != nil),
                                           "clip_sample_range": .number(clip ?? 1), "num_inference_steps": .number(50),
                                           "t": .number(Double(t)), "prev_t": .number(Double(last ? -1 : max(t - 20, 0)))]),
                        "inputs": .object(inputs),
                        "outputs": .object(["prev_sample": goldenTensor(shape, prev), "pred_original_sample": goldenTensor(shape, ref.x0),
                                            "variance": .number(ref.variance)]),
                        "tol": tol,
                    ])
                }
                let c = make(ref.prev)
                for p in [GuidanceConformance.Precision.float64, .float32] {
                    let res = try GuidanceConformance.run(case: c, precision: p)
                    #expect(res.status == .pass, "ddpm \(draw) \(p) \(kind) ᾱ \(abarT) → \(abarPrev) t \(t) clip \(String(describing: clip)): \(res)")
                }
                if draw < 5 {  // an expectation off by 0.1% + 1e-3 must fail
                    let res = try GuidanceConformance.run(case: make(ref.prev.map { $0 * (1 + 1e-3) + 1e-3 }), precision: .float64)
                    #expect(res.status == .fail, "ddpm \(draw): a perturbed expectation passed")
                }
            }
            // DDIM
            do {
                let eta = [0, 1, r.uniform(0, 1)][r.int(0, 2)]
                let ref = Self.ddim(m: m, x: x, z: z, kind: kind, abarT: abarT, abarPrev: abarPrev, eta: eta)
                func make(_ prev: [Double]) -> JSON {
                    .object([
                        "id": .string("ddim_step/random/\(draw)"), "op": .string("ddim_step"),
                        "params": .object(["num_train_timesteps": .number(1000), "beta_schedule": .string("scaled_linear"),
                                           "beta_start": .number(0.00085), "beta_end": .number(0.012),
                                           "prediction_type": .string(kind.rawValue), "set_alpha_to_one": .bool(last),
                                           "steps_offset": .number(0), "num_inference_steps": .number(50), "eta": .number(eta),
                                           "t": .number(Double(t)), "prev_t": .number(Double(last ? -1 : max(t - 20, 0))),
                                           "clip_sample": .bool(false)]),
                        "inputs": .object(inputs),
                        "outputs": .object(["prev_sample": goldenTensor(shape, prev), "pred_original_sample": goldenTensor(shape, ref.x0),
                                            "std_dev_t": .number(ref.std)]),
                        "tol": tol,
                    ])
                }
                let c = make(ref.prev)
                for p in [GuidanceConformance.Precision.float64, .float32] {
                    let res = try GuidanceConformance.run(case: c, precision: p)
                    #expect(res.status == .pass, "ddim \(draw) \(p) \(kind) ᾱ \(abarT) → \(abarPrev) η \(eta): \(res)")
                }
                if draw < 5 {
                    let res = try GuidanceConformance.run(case: make(ref.prev.map { $0 * (1 + 1e-3) + 1e-3 }), precision: .float64)
                    #expect(res.status == .fail, "ddim \(draw): a perturbed expectation passed")
                }
            }
        }
    }
}
