import GradusRuntime
import GradusTensor

/// Runs the golden cases of op `gauge_and_intrinsic_dimension` (spec §7.4): a Gaussian concentrated near a
/// `d`-dimensional subspace of `R^D` under VE noise. Checks the covariance, the score matrix and its singular
/// values, the largest-drop (and log-gap) dimension estimates, the closed-form flow-Jacobian singular values, the
/// `A = S + C·Ω` decomposition and the Jacobian asymmetries (the score's Jacobian taken by reverse mode).
///
/// Always computed in float64, whatever the requested precision: the small singular values are below float32
/// resolution relative to the large ones (the case says so).
public enum GaugeConformance {
    /// The op this runner handles.
    public static let op = "gauge_and_intrinsic_dimension"

    /// Runs one case; nil when the case's op is not `gauge_and_intrinsic_dimension`.
    /// - Throws: `GradusError.format` for a malformed case. Implementation errors are reported as `.fail`.
    public static func run(case json: JSON, precision: GuidanceConformance.Precision = .float64) throws(GradusError) -> CaseResult? {
        let c = try GoldenCase(json)
        guard c.op == op else { return nil }
        return try GuidanceConformance.checked(c, tol: json["tol"]) { k in try evaluate(c, &k) }
    }

    static func evaluate(_ c: GoldenCase, _ k: inout Checker) throws {
        let D = try c.int("D"), d = try c.int("d")
        guard let lambda = c.param("tangent_variances")?.flatDoubles, lambda.count == d else {
            throw GradusError.format("\(c.id): tangent_variances must list d values")
        }
        let delta2 = try c.double("normal_variance")
        let sigma = try c.double("sigma"), sigmaMax = try c.double("sigma_max")
        let u = try c.inputTensor("basis_U")
        guard u.shape == [D, d] else { throw GradusError.format("\(c.id): basis_U must be [D, d]") }
        // C₀ = U·diag(λ)·Uᵀ + δ²·I
        var c0 = [Double](repeating: 0, count: D * D)
        for i in 0..<D { for j in 0..<D {
            var s = i == j ? delta2 : 0
            for l in 0..<d { s += u.data[i * d + l] * lambda[l] * u.data[j * d + l] }
            c0[i * D + j] = s
        } }
        try k.check("covariance_C0", c0, c.outputs["covariance_C0"], toleranceKey: "covariance_C0")

        // Score of N(0, C₀ + σ²I): s(x) = −(C₀ + σ²I)⁻¹x, as a tensor function (rows = samples).
        var cov = c0
        for i in 0..<D { cov[i * D + i] += sigma * sigma }
        let precisionMatrix = try DenseLinearAlgebra.inverse(cov, n: D)
        let negP = Tensor(shape: [D, D], scalars: precisionMatrix.map { -$0 }, dtype: .float64)
        let score = { (x: Tensor) throws(GradusError) -> Tensor in try x.matmul(negP.transposed()) }
        let pointT = try c.inputTensor("point"), zT = try c.inputTensor("perturbations_z")
        let point = Tensor(shape: pointT.shape, scalars: pointT.data, dtype: .float64)
        let z = Tensor(shape: zT.shape, scalars: zT.data, dtype: .float64)
        let (estimate, scores) = try IntrinsicDimension.scoreSVD(score: score, point: point, sigma: sigma, perturbations: z)
        try k.check("score_matrix", scores.scalars(as: Double.self), c.outputs["score_matrix"], toleranceKey: "score_matrix")
        try k.check("score_singular_values", estimate.singularValues, c.outputs["score_singular_values"], toleranceKey: "score_singular_values")
        try k.check("normal_dim_estimate", Double(estimate.normalDim), c.outputs["normal_dim_estimate"], toleranceKey: "normal_dim_estimate")
        try k.check("intrinsic_dim_estimate", Double(estimate.intrinsicDim), c.outputs["intrinsic_dim_estimate"], toleranceKey: "intrinsic_dim_estimate")
        try k.check("normal_dim_estimate_log_gap_rule", Double(IntrinsicDimension.largestLogGapCount(estimate.singularValues)),
                    c.outputs["normal_dim_estimate_log_gap_rule"], toleranceKey: "normal_dim_estimate_log_gap_rule")

        if let flows = c.outputs["flow_jacobian_singular_values"]?.array {
            for (i, f) in flows.enumerated() {
                guard let s = f["sigma"]?.double else { throw GradusError.format("\(c.id): flow entry \(i) lacks sigma") }
                let sv = try IntrinsicDimension.linearGaussianFlowSingularValues(covariance: c0, n: D, sigmaMax: sigmaMax, sigma: s)
                try k.check("flow_jacobian_singular_values[\(i)]", sv, f["singular_values"], toleranceKey: "flow_jacobian_singular_values")
            }
        }

        let aT = try c.inputTensor("field_A")
        guard aT.shape == [D, D] else { throw GradusError.format("\(c.id): field_A must be [D, D]") }
        let sd = try c.double("sigma_decomposition", default: 0)
        var decompositionCov = c0
        for i in 0..<D { decompositionCov[i * D + i] += sd * sd }
        try k.check("decomposition_covariance", decompositionCov, c.outputs["decomposition_covariance"], toleranceKey: "decomposition_covariance")
        let (S, omega) = try Gauge.linearDecomposition(A: aT.data, covariance: decompositionCov, n: D)
        try k.check("decomposition_S", S, c.outputs["decomposition_S"], toleranceKey: "decomposition_S")
        try k.check("decomposition_Omega", omega, c.outputs["decomposition_Omega"], toleranceKey: "decomposition_Omega")

        let jacobian = try Gauge.batchJacobians(of: score, at: point.reshaped([1, D]))
        try k.check("jacobian_asymmetry_score", try Gauge.jacobianAsymmetry(jacobian), c.outputs["jacobian_asymmetry_score"],
                    toleranceKey: "jacobian_asymmetry_score")
        try k.check("jacobian_asymmetry_field_A", try Gauge.jacobianAsymmetry(aT.data, n: D), c.outputs["jacobian_asymmetry_field_A"],
                    toleranceKey: "jacobian_asymmetry_field_A")
    }
}

/// The runners of the golden ops that live beside the guidance math (AlignProp, gauge / intrinsic dimension).
/// The CLI's conformance command calls this first and falls back to `GuidanceConformance` when it returns nil.
public enum DiffusionExtrasConformance {
    /// Ops handled here.
    public static let ops: Set<String> = [AlignPropConformance.op, GaugeConformance.op]

    /// Runs one case when its op is one of `ops`; nil otherwise.
    public static func run(case json: JSON, precision: GuidanceConformance.Precision = .float64) throws(GradusError) -> CaseResult? {
        if let r = try AlignPropConformance.run(case: json, precision: precision) { return r }
        return try GaugeConformance.run(case: json, precision: precision)
    }
}
