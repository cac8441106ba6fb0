import Foundation
import GradusRuntime
import Testing
import _GradusTestSupport
@testable import GradusDiffusion

/// The gauge / intrinsic-dimension case (guidance spec §7.2–§7.4) re-implemented in float64 from the spec's text
/// with algorithms other than the library's — a one-sided Jacobi SVD, Gaussian elimination, and the
/// decomposition `A = S + C·Ω` solved as the Sylvester system `C·Ω + Ω·C = A − Aᵀ` written out as a D²×D² linear
/// system — used to reproduce the public `gauge/linear_gaussian` case and to generate random cases in the golden
/// format (other D, d, variances, σ, K, σ_max, flow σs, fields A) that `GaugeConformance` must pass.
@Suite struct GaugeReferenceTests {
    /// x solving a·x = b (n×n, row-major), partial pivoting.
    static func solve(_ a: [Double], _ b: [Double], n: Int) -> [Double] {
        var m = a, x = b
        for col in 0..<n {
            let pivot = (col..<n).max { abs(m[$0 * n + col]) < abs(m[$1 * n + col]) }!
            if pivot != col {
                for j in 0..<n { m.swapAt(col * n + j, pivot * n + j) }
                x.swapAt(col, pivot)
            }
            for r in (col + 1)..<n {
                let f = m[r * n + col] / m[col * n + col]
                if f == 0 { continue }
                for j in col..<n { m[r * n + j] -= f * m[col * n + j] }
                x[r] -= f * x[col]
            }
        }
        for r in stride(from: n - 1, through: 0, by: -1) {
            var s = x[r]
            for j in (r + 1)..<n { s -= m[r * n + j] * x[j] }
            x[r] = s / m[r * n + r]
        }
        return x
    }

    static func inverse(_ a: [Double], n: Int) -> [Double] {
        var out = [Double](repeating: 0, count: n * n)
        for j in 0..<n {
            let col = solve(a, (0..<n).map { $0 == j ? 1 : 0 }, n: n)
            for i in 0..<n { out[i * n + j] = col[i] }
        }
        return out
    }

    /// Singular values (descending) of an m×n matrix, m ≥ n, by one-sided Jacobi rotations of its columns
    /// (Hestenes), which keeps small singular values to high relative accuracy.
    static func singularValues(_ a: [Double], m: Int, n: Int) -> [Double] {
        var cols = (0..<n).map { j in (0..<m).map { a[$0 * n + j] } }
        for _ in 0..<60 {
            var rotated = false
            for p in 0..<n {
                for q in (p + 1)..<n {
                    var alpha = 0.0, beta = 0.0, gamma = 0.0
                    for i in 0..<m { alpha += cols[p][i] * cols[p][i]; beta += cols[q][i] * cols[q][i]; gamma += cols[p][i] * cols[q][i] }
                    if gamma == 0 || abs(gamma) <= 1e-16 * (alpha * beta).squareRoot() { continue }
                    rotated = true
                    let zeta = (beta - alpha) / (2 * gamma)
                    let t = (zeta >= 0 ? 1.0 : -1.0) / (abs(zeta) + (1 + zeta * zeta).squareRoot())
                    let c = 1 / (1 + t * t).squareRoot(), s = c * t
                    for i in 0..<m {
                        let x = cols[p][i], y = cols[q][i]
                        cols[p][i] = c * x - s * y
                        cols[q][i] = s * x + c * y
                    }
                }
            }
            if !rotated { break }
        }
        return cols.map { $0.map { $0 * $0 }.reduce(0, +).squareRoot() }.sorted(by: >)
    }

    /// 1-based index of the largest drop σ_i − σ_{i+1} (of log σ with `log`), the first on ties.
    static func largestDrop(_ s: [Double], log useLog: Bool) -> Int {
        var best = 1, gap = -Double.infinity
        for i in 0..<(s.count - 1) {
            let g = useLog ? Foundation.log(s[i]) - Foundation.log(s[i + 1]) : s[i] - s[i + 1]
            if g > gap { gap = g; best = i + 1 }
        }
        return best
    }

    /// (S, Ω) with A = S + C·Ω, S symmetric, Ω antisymmetric: C·Ω + Ω·C = A − Aᵀ as a D²×D² system.
    static func decomposition(_ a: [Double], _ c: [Double], n: Int) -> (s: [Double], omega: [Double]) {
        let nn = n * n
        var m = [Double](repeating: 0, count: nn * nn), rhs = [Double](repeating: 0, count: nn)
        for i in 0..<n {
            for j in 0..<n {
                let row = i * n + j
                rhs[row] = a[i * n + j] - a[j * n + i]
                for k in 0..<n {
                    m[row * nn + k * n + j] += c[i * n + k]  // (C·Ω)_ij = Σ_k C_ik Ω_kj
                    m[row * nn + i * n + k] += c[k * n + j]  // (Ω·C)_ij = Σ_k Ω_ik C_kj
                }
            }
        }
        let omega = solve(m, rhs, n: nn)
        var s = a
        for i in 0..<n { for j in 0..<n { for k in 0..<n { s[i * n + j] -= c[i * n + k] * omega[k * n + j] } } }
        return (s, omega)
    }

    static func asymmetry(_ j: [Double], n: Int) -> Double {
        var num = 0.0, den = 0.0
        for r in 0..<n { for c in 0..<n { let d = j[r * n + c] - j[c * n + r]; num += d * d; den += j[r * n + c] * j[r * n + c] } }
        return (num / den).squareRoot()
    }

    struct Problem {
        var D: Int, d: Int, lambda: [Double], delta2: Double, sigma: Double, sigmaMax: Double, flowSigmas: [Double], sd: Double
        var u: [Double], point: [Double], z: [Double], a: [Double]
        var K: Int { z.count / D }
    }

    static func outputs(_ p: Problem) -> [String: JSON] {
        let n = p.D
        var c0 = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n {
            var s = i == j ? p.delta2 : 0
            for l in 0..<p.d { s += p.u[i * p.d + l] * p.lambda[l] * p.u[j * p.d + l] }
            c0[i * n + j] = s
        } }
        var cov = c0
        for i in 0..<n { cov[i * n + i] += p.sigma * p.sigma }
        let precision = inverse(cov, n: n)
        var scores = [Double](repeating: 0, count: p.K * n)
        for k in 0..<p.K {
            for i in 0..<n {
                var s = 0.0
                for j in 0..<n { s -= precision[i * n + j] * (p.point[j] + p.sigma * p.z[k * n + j]) }
                scores[k * n + i] = s
            }
        }
        let sv = singularValues(scores, m: p.K, n: n)
        let normal = largestDrop(sv, log: false)
        let mu = singularValues(c0, m: n, n: n)  // C₀ is SPD: its singular values are its eigenvalues
        let flows: [JSON] = p.flowSigmas.map { s in
            .object(["sigma": .number(s),
                     "singular_values": .array(mu.map { (($0 + s * s) / ($0 + p.sigmaMax * p.sigmaMax)).squareRoot() }.sorted(by: >).map { .number($0) })])
        }
        var dcov = c0
        for i in 0..<n { dcov[i * n + i] += p.sd * p.sd }
        let (s, omega) = decomposition(p.a, dcov, n: n)
        return [
            "covariance_C0": goldenTensor([n, n], c0), "score_matrix": goldenTensor([p.K, n], scores),
            "score_singular_values": .array(sv.map { .number($0) }), "normal_dim_estimate": .number(Double(normal)),
            "normal_dim_estimate_log_gap_rule": .number(Double(largestDrop(sv, log: true))),
            "intrinsic_dim_estimate": .number(Double(n - normal)), "flow_jacobian_singular_values": .array(flows),
            "decomposition_S": goldenTensor([n, n], s), "decomposition_Omega": goldenTensor([n, n], omega),
            "decomposition_covariance": goldenTensor([n, n], dcov),
            "jacobian_asymmetry_score": .number(asymmetry(precision.map { -$0 }, n: n)),
            "jacobian_asymmetry_field_A": .number(asymmetry(p.a, n: n)),
        ]
    }

    static func caseJSON(_ p: Problem, id: String) -> JSON {
        func numbers(_ xs: [Double]) -> JSON { .array(xs.map { .number($0) }) }
        return .object([
            "id": .string(id), "op": .string("gauge_and_intrinsic_dimension"),
            "params": .object(["D": .number(Double(p.D)), "d": .number(Double(p.d)), "tangent_variances": numbers(p.lambda),
                               "normal_variance": .number(p.delta2), "sigma": .number(p.sigma), "K": .number(Double(p.K)),
                               "sigma_max": .number(p.sigmaMax), "flow_sigmas": numbers(p.flowSigmas), "sigma_decomposition": .number(p.sd)]),
            "inputs": .object(["basis_U": goldenTensor([p.D, p.d], p.u), "point": goldenTensor([p.D], p.point),
                               "perturbations_z": goldenTensor([p.K, p.D], p.z), "field_A": goldenTensor([p.D, p.D], p.a)]),
            "outputs": .object(outputs(p)),
            "tol": .object(["rtol": .number(1e-6), "atol": .number(1e-8)]),
        ])
    }

    @Test func referenceReproducesThePublicCase() throws {
        let c = try #require(AlignPropTests.cases(op: GaugeConformance.op).first)
        let params = try #require(c["params"]), inputs = try #require(c["inputs"])
        func data(_ key: String) throws -> [Double] { try #require(inputs[key]?["data"]?.flatDoubles) }
        let p = Problem(D: params["D"]!.int!, d: params["d"]!.int!, lambda: params["tangent_variances"]!.flatDoubles!,
                        delta2: params["normal_variance"]!.double!, sigma: params["sigma"]!.double!, sigmaMax: params["sigma_max"]!.double!,
                        flowSigmas: params["flow_sigmas"]!.flatDoubles!, sd: params["sigma_decomposition"]!.double!,
                        u: try data("basis_U"), point: try data("point"), z: try data("perturbations_z"), a: try data("field_A"))
        let mine = Self.outputs(p), theirs = try #require(c["outputs"]?.object)
        #expect(Set(mine.keys) == Set(theirs.keys))
        for (key, want) in theirs {
            func flat(_ j: JSON) -> [Double] {
                if let d = j["data"]?.flatDoubles { return d }
                if let a = j.array, a.first?["sigma"] != nil { return a.flatMap { [$0["sigma"]!.double!] + $0["singular_values"]!.flatDoubles! } }
                return j.flatDoubles ?? []
            }
            let got = flat(try #require(mine[key])), exp = flat(want)
            #expect(got.count == exp.count && !exp.isEmpty, "\(key)")
            for (a, b) in zip(got, exp) { #expect(abs(a - b) <= 1e-8 + 1e-6 * abs(b), "\(key): \(a) vs \(b)") }
        }
    }

    @Test func libraryMatchesReferenceOnRandomCases() throws {
        var r = RandomDraws(seed: 0x6A06E)
        var checked = 0, dims: Set<Int> = []
        for draw in 0..<40 {
            let D = r.int(2, 7), d = r.int(1, D - 1), K = r.int(D + 1, 64)
            // an orthonormal D×d basis by Gram–Schmidt on Gaussian-ish columns
            var cols: [[Double]] = []
            while cols.count < d {
                var v = (0..<D).map { _ in r.uniform(-1, 1) }
                for c in cols { let dot = zip(v, c).map(*).reduce(0, +); v = zip(v, c).map { $0 - dot * $1 } }
                let norm = v.map { $0 * $0 }.reduce(0, +).squareRoot()
                if norm > 0.1 { cols.append(v.map { $0 / norm }) }
            }
            let u = (0..<D).flatMap { i in cols.map { $0[i] } }
            let lambda = (0..<d).map { _ in r.logUniform(0.3, 5) }
            let tangent = (0..<d).map { _ in r.uniform(-1, 1) }
            let point = (0..<D).map { i in (0..<d).map { u[i * d + $0] * tangent[$0] }.reduce(0, +) + r.uniform(-1, 1) * 1e-3 }
            let sigmaMax = r.logUniform(2, 20)
            let p = Problem(D: D, d: d, lambda: lambda, delta2: r.logUniform(1e-8, 1e-4), sigma: r.logUniform(1e-3, 0.1),
                            sigmaMax: sigmaMax, flowSigmas: [sigmaMax] + (0..<r.int(1, 4)).map { _ in r.logUniform(1e-3, sigmaMax) },
                            sd: r.uniform(0, 1), u: u, point: point, z: (0..<(K * D)).map { _ in r.uniform(-2, 2) },
                            a: (0..<(D * D)).map { _ in r.uniform(-1, 1) })
            let c = Self.caseJSON(p, id: "gauge/random_\(draw)")
            // Skip draws whose two largest drops tie to 1e-9: two correct SVDs may then pick different ones.
            let sv = c["outputs"]!["score_singular_values"]!.flatDoubles!
            let drops = zip(sv, sv.dropFirst()).map { $0 - $1 }.sorted(by: >)
            if drops.count > 1, drops[0] - drops[1] <= 1e-9 * drops[0] { continue }
            let result = try #require(try GaugeConformance.run(case: c))
            #expect(result.compared > 3 * D * D + K * D, "draw \(draw): \(result.compared) values compared")
            #expect(result.status == .pass, "draw \(draw): D \(D) d \(d) K \(K): \(result)")
            checked += 1
            dims.insert(c["outputs"]!["intrinsic_dim_estimate"]!.int!)
        }
        #expect(checked > 35 && dims.count >= 3, "\(checked) draws checked; intrinsic dimensions estimated: \(dims.sorted())")
    }

    /// A perturbed Ω must fail the case (the comparison can fail).
    @Test func perturbedDecompositionFails() throws {
        let c = try #require(AlignPropTests.cases(op: GaugeConformance.op).first)
        #expect(try GaugeConformance.run(case: c)?.status == .pass)
        guard case .object(var top) = c, case .object(var outputs)? = top["outputs"], case .object(var omega)? = outputs["decomposition_Omega"],
              case .array(var data)? = omega["data"], let x = data[1].double else { Issue.record("malformed case"); return }
        data[1] = .number(x * (1 + 1e-4)); omega["data"] = .array(data); outputs["decomposition_Omega"] = .object(omega)
        top["outputs"] = .object(outputs)
        #expect(try GaugeConformance.run(case: .object(top))?.status != .pass)
    }
}
