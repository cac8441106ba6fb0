import Glibc
import GradusRuntime
import GradusTensor
import GradusNN
import GradusOptim
import GradusDiffusion

/// Intrinsic-dimension estimation from scores (Stanczuk et al.; Horvat & Pfister; spec §7 and §8) on toy manifolds
/// of known dimension.
///
/// 1. **Linear Gaussians** (`D`, `d`) concentrated near a random `d`-dimensional subspace (normal variance 1e-6):
///    score-SVD with the exact score, and flow-Jacobian singular values from integrating the VE probability-flow ODE
///    (Heun, with the variational equation) from σ = 10 to 1e-3, counted before their largest log gap.
/// 2. **Spheres** `S^d` rotated into `R^D` with the exact near-manifold score `−(x − proj(x))/σ²`: score-SVD at
///    test points; fraction of points with the right `d`.
/// 3. **Trained scores** on the circle in `R³`, by denoising score matching at σ = 0.1: an unconstrained MLP field
///    and a conservative field `−∇ₓE_θ/σ²` with the residual energy `E = ½‖x − f_θ(x)‖²` of Salimans & Ho (2021),
///    `f_θ` a network of the unconstrained model's structure (trained through a second-order gradient). Fraction of
///    test points with the right dimension, the mean Jacobian asymmetry `‖J − Jᵀ‖/‖J‖` (0 for the conservative
///    field) and the DSM loss of both on one held-out batch.
public enum DiffusionIntrinsicDimension: Reproduction {
    public static let name = "intrinsic-dimension"
    public static let summary = "Intrinsic dimension from score SVD and flow Jacobians on linear Gaussians, spheres and trained scores"

    public static func run(_ options: ReproOptions, log: (String) -> Void) throws(GradusError) -> ReproReport {
        typealias S = DiffusionReproSupport
        let start = MonotonicTime.now()
        var report = ReproReport(name: name)
        var rng = PhiloxStream(seed: options.seed &+ 1, stream: 4)
        var claims: [(String, Bool)] = []

        // ---- 1. linear Gaussians ----
        var linTable = ReproTable(title: "Linear Gaussian near a d-dim subspace (score SVD at σ = 0.01, K = 4D; flow Jacobian σ 10 → 1e-3)",
                                  header: ["D", "d", "score SVD d̂", "flow-Jacobian d̂", "flow singular values"])
        var linearOK = true
        for (D, d) in [(5, 2), (8, 3), (10, 1)] {
            let rot = ToyDatasets.randomRotation(D, rng: &rng)
            var c = [Double](repeating: 0, count: D * D)
            let lambdas = (0..<d).map { 4.0 / Double($0 + 1) }
            for i in 0..<D { for j in 0..<D {
                var s = i == j ? 1e-6 : 0
                for l in 0..<d { s += rot[i * D + l] * lambdas[l] * rot[j * D + l] }
                c[i * D + j] = s
            } }
            func score(sigma: Double) throws(GradusError) -> Tensor {
                var cov = c
                for i in 0..<D { cov[i * D + i] += sigma * sigma }
                return Tensor(shape: [D, D], scalars: try DenseLinearAlgebra.inverse(cov, n: D).map { -$0 }, dtype: .float64)
            }
            let p001 = try score(sigma: 0.01)
            var pointValues = [Double](repeating: 0, count: D)
            for l in 0..<d { let a = rng.nextNormal() * lambdas[l].squareRoot(); for i in 0..<D { pointValues[i] += a * rot[i * D + l] } }
            let point = Tensor(shape: [D], scalars: pointValues, dtype: .float64)
            let z = Tensor.normal([4 * D, D], seed: rng.nextUInt64(), dtype: .float64)
            let (est, _) = try IntrinsicDimension.scoreSVD(score: { (x: Tensor) throws(GradusError) in try x.matmul(p001) },
                                                           point: point, sigma: 0.01, perturbations: z)
            let x1 = Tensor.normal([1, D], std: 10, seed: rng.nextUInt64(), dtype: .float64)
            let flow = try IntrinsicDimension.flowJacobianSingularValues(score: { (x: Tensor, s: Double) throws(GradusError) in
                try x.matmul(try score(sigma: s))
            }, x1: x1, sigmaMax: 10, sigmaMin: 1e-3, steps: options.scaled(300, minimum: 60))[0]
            let flowD = IntrinsicDimension.largestLogGapCount(flow)
            linearOK = linearOK && est.intrinsicDim == d && flowD == d
            linTable.rows.append(["\(D)", "\(d)", "\(est.intrinsicDim)", "\(flowD)", flow.map { S.f($0, "%.2g") }.joined(separator: " ")])
            log("intrinsic-dimension: linear D=\(D) d=\(d): score-SVD \(est.intrinsicDim), flow \(flowD)")
        }
        claims.append(("linear Gaussians: score SVD and flow Jacobian both recover d", linearOK))

        // ---- 2. spheres with the exact near-manifold score ----
        var sphereTable = ReproTable(title: "Spheres S^d in R^D, exact near-manifold score (σ = 0.01, K = max(64, 8D))",
                                     header: ["manifold", "D", "d", "points", "correct", "mean d̂"])
        let testPoints = options.scaled(20, minimum: 4)
        var spheresOK = true
        for (D, d) in [(3, 1), (5, 2), (7, 3)] {
            let rot = ToyDatasets.randomRotation(D, rng: &rng)
            let points = try ToyDatasets.sphere(count: testPoints, intrinsicDim: d, ambient: D, rotation: rot, rng: &rng)
            let sigma = 0.01
            let score = { (x: Tensor) throws(GradusError) -> Tensor in
                let v = x.scalars(as: Double.self), n = v.count / D
                var out = [Double](repeating: 0, count: v.count)
                for r in 0..<n {
                    // coordinates in the sphere's frame: y = Rᵀx; project the first d+1 onto the unit sphere, zero the rest
                    var y = [Double](repeating: 0, count: D)
                    for j in 0..<D { for i in 0..<D { y[j] += rot[i * D + j] * v[r * D + i] } }
                    let norm = (0...d).reduce(0.0) { $0 + y[$1] * y[$1] }.squareRoot()
                    var p = [Double](repeating: 0, count: D)
                    for j in 0...d { p[j] = y[j] / max(norm, 1e-12) }
                    for i in 0..<D {
                        var proj = 0.0
                        for j in 0..<D { proj += rot[i * D + j] * p[j] }
                        out[r * D + i] = -(v[r * D + i] - proj) / (sigma * sigma)
                    }
                }
                return Tensor(shape: x.shape, scalars: out, dtype: .float64)
            }
            var correct = 0, sum = 0
            for k in 0..<testPoints {
                let point = Tensor(shape: [D], scalars: Array(points[(k * D)..<((k + 1) * D)]), dtype: .float64)
                let z = Tensor.normal([max(64, 8 * D), D], seed: rng.nextUInt64(), dtype: .float64)
                let (est, _) = try IntrinsicDimension.scoreSVD(score: score, point: point, sigma: sigma, perturbations: z)
                if est.intrinsicDim == d { correct += 1 }
                sum += est.intrinsicDim
            }
            let frac = Double(correct) / Double(testPoints)
            spheresOK = spheresOK && frac >= 0.9
            sphereTable.rows.append(["S^\(d)", "\(D)", "\(d)", "\(testPoints)", S.f(frac), S.f(Double(sum) / Double(testPoints), "%.2f")])
            log("intrinsic-dimension: sphere S^\(d) in R^\(D): \(correct)/\(testPoints) correct")
        }
        claims.append(("spheres: score SVD finds d at ≥ 90% of points", spheresOK))

        // ---- 3. trained scores on the circle in R³ ----
        let sigma = 0.1, batch = 256, trainSteps = options.scaled(1500, minimum: 30)
        let circleRot = ToyDatasets.randomRotation(3, rng: &rng)
        var dataRNG = PhiloxStream(seed: options.seed &+ 5, stream: 6)
        let free = try DenoiserMLP(dataDim: 3, numClasses: 1, hidden: 128, depth: 3, dtype: .float32, seed: options.seed &+ 6)
        // Conservative field: Salimans & Ho, "Should EBMs model the energy or the score?" (2021) — constrained
        // (energy) models train as well as unconstrained ones "when using a comparable model structure", with the
        // residual energy E(x) = ½‖x − f(x)‖², f a denoiser-shaped network (here the same MLP as the unconstrained
        // field, so only the constraint differs), and s = −∇E/σ² (at the optimum f is the x₀-prediction: Tweedie).
        // The former energy, a scalar softplus MLP 3→128→128→1, learnt only the normal direction off the circle's
        // plane (a quadratic E suffices there: its residual fell to ~0) and not the radial one (residual stayed ~1:
        // the valley ½(r − 1)² needs quartic terms, which a shallow softplus MLP at PyTorch init, nearly quadratic
        // over the data, hardly has): final DSM loss 0.68 vs 0.35, score SVD right at 2/20 points. Dividing by σ
        // instead of σ² did not help; the second-order gradient is right (GaugeTests checks it by finite
        // differences); a scalar energy with the unconstrained MLP's depth and SiLU did train — the structure was
        // the problem, as Salimans & Ho found.
        let fNet = try DenoiserMLP(dataDim: 3, numClasses: 1, hidden: 128, depth: 3, dtype: .float32, seed: options.seed &+ 7)
        let conservative = ConservativeScore.makeResidual({ (x: Tensor, _: [Double]) throws(GradusError) in
            try fNet.predict(x, timesteps: [Double](repeating: 0, count: x.shape[0]), labels: [Int](repeating: 0, count: x.shape[0]))
        })
        // Unconstrained field: the MLP predicts ε; s = −ε̂/σ. Conservative: s = −∇E/σ² (E in units of σ²·energy).
        func freeScore(_ x: Tensor) throws(GradusError) -> Tensor {
            try free.predict(x, timesteps: [Double](repeating: 0, count: x.shape[0]), labels: [Int](repeating: 0, count: x.shape[0])) * (-1 / sigma)
        }
        func consScore(_ x: Tensor) throws(GradusError) -> Tensor { try conservative(x, timesteps: []) * (1 / (sigma * sigma)) }
        // Same optimiser and learning rate for both fields: only the parametrisation differs.
        let optFree = try Optimizer(free.parameters, chain: GradientChain<Float>.adam(learningRate: .constant(2e-3)))
        let optCons = try Optimizer(fNet.parameters, chain: GradientChain<Float>.adam(learningRate: .constant(2e-3)))
        var seconds = (0.0, 0.0)
        var lastLoss = (0.0, 0.0)
        for s in 0..<trainSteps {
            let pts = try ToyDatasets.sphere(count: batch, intrinsicDim: 1, ambient: 3, rotation: circleRot, rng: &dataRNG)
            let x = Tensor(shape: [batch, 3], scalars: pts, dtype: .float32)
            let z = Tensor.normal([batch, 3], seed: dataRNG.nextUInt64())
            let xt = try x + z * sigma
            // DSM: ‖σ·s(x̃) + z‖²
            let t0 = MonotonicTime.now()
            optFree.zeroGrad()
            let lf = try (try freeScore(xt) * sigma + z).square().mean()
            try lf.backward(); try optFree.step()
            let t1 = MonotonicTime.now()
            optCons.zeroGrad()
            let lc = try (try consScore(xt) * sigma + z).square().mean()
            try lc.backward(); try optCons.step()
            seconds.0 += t1 - t0; seconds.1 += MonotonicTime.now() - t1
            lastLoss = (try lf.item(), try lc.item())
            if (s + 1) % max(1, trainSteps / 4) == 0 {
                log("intrinsic-dimension: DSM step \(s + 1)/\(trainSteps): unconstrained \(S.f(lastLoss.0, "%.4f")), conservative \(S.f(lastLoss.1, "%.4f"))")
            }
        }
        // Held-out DSM loss: one fixed batch of 2048 noisy points, the same for both fields (the last training batch
        // is too noisy to compare them). Its floor is ≈ 1/3: the tangent third of the noise is unpredictable.
        var evalRNG = PhiloxStream(seed: options.seed &+ 11, stream: 7)
        let evalX = Tensor(shape: [2048, 3], scalars: try ToyDatasets.sphere(count: 2048, intrinsicDim: 1, ambient: 3, rotation: circleRot, rng: &evalRNG),
                           dtype: .float32)
        let evalZ = Tensor.normal([2048, 3], seed: evalRNG.nextUInt64())
        let evalXt = try evalX + evalZ * sigma
        func heldOutLoss(_ field: (Tensor) throws(GradusError) -> Tensor) throws(GradusError) -> Double {
            try GradMode.withoutGrad { () throws(GradusError) in try (try field(evalXt) * sigma + evalZ).square().mean().item() }
        }
        let test = try ToyDatasets.sphere(count: testPoints, intrinsicDim: 1, ambient: 3, rotation: circleRot, rng: &rng)
        var trainedTable = ReproTable(title: "Circle in R³, scores trained by DSM at σ = \(sigma) (\(trainSteps) steps, Adam 2e-3 both); score SVD at σ = \(sigma), K = 64",
                                      header: ["score model", "correct d̂ = 1", "mean d̂", "Jacobian asymmetry", "final batch DSM", "held-out DSM", "train s"])
        var asym: [Double] = []
        var accs: [Double] = []
        var heldOut: [Double] = []
        for (label, field, loss, secs) in [("unconstrained MLP", freeScore as (Tensor) throws(GradusError) -> Tensor, lastLoss.0, seconds.0),
                                           ("conservative −∇E, E = ½‖x − f(x)‖²", consScore, lastLoss.1, seconds.1)] {
            var correct = 0, sum = 0
            let testT = Tensor(shape: [testPoints, 3], scalars: test, dtype: .float32)
            for k in 0..<testPoints {
                let point = try testT.slice(axis: 0, start: k, end: k + 1).reshaped([3])
                let z = Tensor.normal([64, 3], seed: rng.nextUInt64())
                let (est, _) = try IntrinsicDimension.scoreSVD(score: field, point: point, sigma: sigma, perturbations: z)
                if est.intrinsicDim == 1 { correct += 1 }
                sum += est.intrinsicDim
            }
            let j = try Gauge.batchJacobians(of: field, at: testT)
            let a = try Gauge.jacobianAsymmetry(j)
            let h = try heldOutLoss(field)
            asym.append(a); accs.append(Double(correct) / Double(testPoints)); heldOut.append(h)
            trainedTable.rows.append([label, S.f(Double(correct) / Double(testPoints)), S.f(Double(sum) / Double(testPoints), "%.2f"),
                                      S.f(a, "%.2e"), S.f(loss, "%.4f"), S.f(h, "%.4f"), S.f(secs, "%.1f")])
            log("intrinsic-dimension: \(label): \(correct)/\(testPoints) correct, asymmetry \(S.f(a, "%.2e")), held-out DSM \(S.f(h, "%.4f"))")
        }
        claims.append(("the conservative field's Jacobian is symmetric (asymmetry < 1e-5), the unconstrained one's is not",
                       asym[1] < 1e-5 && asym[0] > asym[1]))
        claims.append(("trained scores recover d = 1 on the circle at ≥ 80% of points (both fields)", accs.allSatisfy { $0 >= 0.8 }))
        claims.append(("the conservative field trains as well as the unconstrained one (held-out DSM loss within 10%)",
                       heldOut[1] <= 1.1 * heldOut[0]))

        report.tables = [linTable, sphereTable, trainedTable]
        report.claims = claims
        report.metrics = [
            "trained_accuracy": S.json(accs), "trained_jacobian_asymmetry": S.json(asym),
            "trained_held_out_dsm_loss": S.json(heldOut), "train_steps": .number(Double(trainSteps)),
            "train_seconds": S.json([seconds.0, seconds.1]),
            "total_seconds": S.json(MonotonicTime.now() - start),
        ]
        return report
    }
}
