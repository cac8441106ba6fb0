import _GradusShims
import GradusRuntime

/// Small dense linear algebra in Double for the analysis tools (matrices of a few hundred rows at most):
/// cyclic Jacobi for symmetric eigenproblems, one-sided Jacobi (Hestenes) for singular values, and Gaussian
/// elimination with partial pivoting. Jacobi methods are slow (O(n³) per sweep) but accurate to high *relative*
/// precision for the small singular values the intrinsic-dimension estimate separates. Row-major storage.
public enum DenseLinearAlgebra {
    /// Eigen-decomposition of a symmetric `n × n` matrix: `A = V·diag(λ)·Vᵀ`, eigenvalues in descending order,
    /// `vectors` row-major with eigenvector `k` in column `k`.
    /// - Throws: `GradusError.shapeMismatch` when `a.count ≠ n²`; `.invalidArgument` for non-finite input.
    public static func symmetricEigen(_ a: [Double], n: Int) throws(GradusError) -> (values: [Double], vectors: [Double]) {
        guard n >= 0, a.count == n * n else { throw .shapeMismatch("symmetricEigen: \(a.count) values for a \(n)×\(n) matrix") }
        guard a.allSatisfy(\.isFinite) else { throw .invalidArgument("symmetricEigen: non-finite entry") }
        var m = a
        // Symmetrise (callers pass matrices symmetric up to rounding).
        for i in 0..<n { for j in (i + 1)..<max(n, i + 1) { let s = 0.5 * (m[i * n + j] + m[j * n + i]); m[i * n + j] = s; m[j * n + i] = s } }
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        for _ in 0..<100 {
            var off = 0.0, diag = 0.0
            for i in 0..<n { diag += m[i * n + i] * m[i * n + i]; for j in 0..<n where j != i { off += m[i * n + j] * m[i * n + j] } }
            if off <= 1e-30 * diag || off == 0 { break }
            for p in 0..<n {
                for q in (p + 1)..<max(n, p + 1) {
                    let apq = m[p * n + q]
                    if apq == 0 { continue }
                    let app = m[p * n + p], aqq = m[q * n + q]
                    let theta = (aqq - app) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + gradus_sqrt(theta * theta + 1))
                    let c = 1 / gradus_sqrt(t * t + 1), s = t * c
                    for k in 0..<n {   // rotate columns p, q
                        let mkp = m[k * n + p], mkq = m[k * n + q]
                        m[k * n + p] = c * mkp - s * mkq; m[k * n + q] = s * mkp + c * mkq
                    }
                    for k in 0..<n {   // rotate rows p, q
                        let mpk = m[p * n + k], mqk = m[q * n + k]
                        m[p * n + k] = c * mpk - s * mqk; m[q * n + k] = s * mpk + c * mqk
                    }
                    m[p * n + q] = 0; m[q * n + p] = 0
                    for k in 0..<n {
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq; v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        let order = (0..<n).sorted { m[$0 * n + $0] > m[$1 * n + $1] }
        var values = [Double](repeating: 0, count: n), vectors = [Double](repeating: 0, count: n * n)
        for (k, src) in order.enumerated() {
            values[k] = m[src * n + src]
            for i in 0..<n { vectors[i * n + k] = v[i * n + src] }
        }
        return (values, vectors)
    }

    /// Singular values (descending) of a `rows × cols` matrix by one-sided Jacobi on the narrower side.
    /// - Throws: `GradusError.shapeMismatch` when `m.count ≠ rows·cols`; `.invalidArgument` for non-finite input.
    public static func singularValues(_ m: [Double], rows: Int, cols: Int) throws(GradusError) -> [Double] {
        guard rows >= 0, cols >= 0, m.count == rows * cols else {
            throw .shapeMismatch("singularValues: \(m.count) values for a \(rows)×\(cols) matrix")
        }
        guard m.allSatisfy(\.isFinite) else { throw .invalidArgument("singularValues: non-finite entry") }
        // Work on columns of a tall matrix: columns stored contiguously (col-major copy) for the rotations.
        let tall = rows >= cols
        let r = tall ? rows : cols, c = tall ? cols : rows
        var a = [Double](repeating: 0, count: r * c)   // a[j * r + i] = column j, row i
        for i in 0..<rows { for j in 0..<cols { if tall { a[j * r + i] = m[i * cols + j] } else { a[i * r + j] = m[i * cols + j] } } }
        for _ in 0..<100 {
            var rotated = false
            for p in 0..<c {
                for q in (p + 1)..<max(c, p + 1) {
                    var alpha = 0.0, beta = 0.0, gamma = 0.0
                    for i in 0..<r {
                        let x = a[p * r + i], y = a[q * r + i]
                        alpha += x * x; beta += y * y; gamma += x * y
                    }
                    if gamma == 0 || abs(gamma) <= 1e-15 * gradus_sqrt(alpha * beta) { continue }
                    rotated = true
                    let zeta = (beta - alpha) / (2 * gamma)
                    let t = (zeta >= 0 ? 1.0 : -1.0) / (abs(zeta) + gradus_sqrt(1 + zeta * zeta))
                    let cs = 1 / gradus_sqrt(1 + t * t), sn = cs * t
                    for i in 0..<r {
                        let x = a[p * r + i], y = a[q * r + i]
                        a[p * r + i] = cs * x - sn * y; a[q * r + i] = sn * x + cs * y
                    }
                }
            }
            if !rotated { break }
        }
        var out = [Double](repeating: 0, count: c)
        for j in 0..<c {
            var s = 0.0
            for i in 0..<r { s += a[j * r + i] * a[j * r + i] }
            out[j] = gradus_sqrt(s)
        }
        return out.sorted(by: >)
    }

    /// Solves `A·X = B` for `X` (`A` is `n × n`, `B` is `n × k`) by Gaussian elimination with partial pivoting.
    /// - Throws: `GradusError.shapeMismatch` for wrong sizes; `.invalidArgument` when `A` is singular.
    public static func solve(_ a: [Double], _ b: [Double], n: Int, columns k: Int) throws(GradusError) -> [Double] {
        guard a.count == n * n, b.count == n * k else { throw .shapeMismatch("solve: A has \(a.count), B \(b.count) values for n = \(n), k = \(k)") }
        var m = a, x = b
        var scale = 0.0
        for v in a { scale = max(scale, abs(v)) }
        for col in 0..<n {
            var piv = col
            for r in (col + 1)..<max(n, col + 1) where abs(m[r * n + col]) > abs(m[piv * n + col]) { piv = r }
            guard abs(m[piv * n + col]) > 1e-300, abs(m[piv * n + col]) > 1e-14 * scale else {
                throw .invalidArgument("solve: matrix is singular")
            }
            if piv != col {
                for j in 0..<n { m.swapAt(col * n + j, piv * n + j) }
                for j in 0..<k { x.swapAt(col * k + j, piv * k + j) }
            }
            let d = m[col * n + col]
            for r in (col + 1)..<max(n, col + 1) {
                let f = m[r * n + col] / d
                if f == 0 { continue }
                for j in col..<n { m[r * n + j] -= f * m[col * n + j] }
                for j in 0..<k { x[r * k + j] -= f * x[col * k + j] }
            }
        }
        for col in stride(from: n - 1, through: 0, by: -1) {
            for j in 0..<k {
                var s = x[col * k + j]
                for c in (col + 1)..<max(n, col + 1) { s -= m[col * n + c] * x[c * k + j] }
                x[col * k + j] = s / m[col * n + col]
            }
        }
        return x
    }

    /// The inverse of an `n × n` matrix.
    public static func inverse(_ a: [Double], n: Int) throws(GradusError) -> [Double] {
        var eye = [Double](repeating: 0, count: n * n)
        for i in 0..<n { eye[i * n + i] = 1 }
        return try solve(a, eye, n: n, columns: n)
    }

    /// `A·B` for `A` (`n × m`) and `B` (`m × k`), row-major.
    public static func multiply(_ a: [Double], _ b: [Double], _ n: Int, _ m: Int, _ k: Int) -> [Double] {
        var out = [Double](repeating: 0, count: n * k)
        for i in 0..<n { for l in 0..<m { let ail = a[i * m + l]; if ail == 0 { continue }; for j in 0..<k { out[i * k + j] += ail * b[l * k + j] } } }
        return out
    }

    /// The transpose of an `n × m` matrix.
    public static func transpose(_ a: [Double], _ n: Int, _ m: Int) -> [Double] {
        var out = [Double](repeating: 0, count: n * m)
        for i in 0..<n { for j in 0..<m { out[j * n + i] = a[i * m + j] } }
        return out
    }
}
