import GradusRuntime

/// Reading helpers over one case object of a `gradus-golden-v1` file, and the tolerance bookkeeping.
/// Malformed input throws `GradusError.format`.
struct GoldenCase {
    let json: JSON
    let id: String
    let op: String

    init(_ json: JSON) throws(GradusError) {
        guard json.object != nil else { throw .format("golden case is not an object") }
        guard let op = json["op"]?.string else { throw .format("golden case without \"op\"") }
        self.json = json
        self.id = json["id"]?.string ?? "<no id>"
        self.op = op
    }

    var params: JSON { json["params"] ?? .object([:]) }
    var inputs: JSON { json["inputs"] ?? .object([:]) }
    var outputs: JSON { json["outputs"] ?? .object([:]) }

    func param(_ key: String) -> JSON? {
        guard let v = params[key], !v.isNull else { return nil }
        return v
    }
    func double(_ key: String, default value: Double? = nil) throws(GradusError) -> Double {
        if let d = param(key)?.double { return d }
        if let value { return value }
        throw .format("\(id): missing numeric param \"\(key)\"")
    }
    func int(_ key: String, default value: Int? = nil) throws(GradusError) -> Int {
        if let d = param(key)?.int { return d }
        if let value { return value }
        throw .format("\(id): missing integer param \"\(key)\"")
    }
    func string(_ key: String, default value: String? = nil) throws(GradusError) -> String {
        if let s = param(key)?.string { return s }
        if let value { return value }
        throw .format("\(id): missing string param \"\(key)\"")
    }
    func bool(_ key: String, default value: Bool) -> Bool { param(key)?.bool ?? value }

    /// Decodes `{"shape": [...], "data": [...]}`.
    static func tensor(_ j: JSON?, _ what: String) throws(GradusError) -> (shape: [Int], data: [Double]) {
        guard let j, let shapeJSON = j["shape"]?.array, let data = j["data"]?.flatDoubles else {
            throw .format("\(what): not a {shape, data} tensor")
        }
        var shape: [Int] = []
        var n = 1
        for s in shapeJSON {
            guard let d = s.int, d >= 0 else { throw .format("\(what): bad shape entry") }
            shape.append(d); n *= d
        }
        guard n == data.count else { throw .format("\(what): shape \(shape) does not match \(data.count) values") }
        return (shape, data)
    }

    func inputTensor(_ key: String) throws(GradusError) -> (shape: [Int], data: [Double]) {
        try GoldenCase.tensor(inputs[key], "\(id): input \(key)")
    }
    func inputTensors(_ key: String) throws(GradusError) -> [(shape: [Int], data: [Double])] {
        guard let list = inputs[key]?.array else { throw .format("\(id): input \(key) is not a list") }
        var out: [(shape: [Int], data: [Double])] = []
        for (i, e) in list.enumerated() { out.append(try GoldenCase.tensor(e, "\(id): input \(key)[\(i)]")) }
        return out
    }
    func inputScalar(_ key: String) throws(GradusError) -> Double {
        guard let d = inputs[key]?.double else { throw .format("\(id): missing scalar input \(key)") }
        return d
    }
}

/// Elementwise tolerance `|got − want| ≤ atol + rtol·|want|`, or exact equality.
struct Tolerance {
    var rtol: Double
    var atol: Double
    var exact: Bool

    static func from(_ j: JSON?) -> Tolerance? {
        guard let j, j.object != nil else { return nil }
        if j["exact"]?.bool == true { return Tolerance(rtol: 0, atol: 0, exact: true) }
        guard let r = j["rtol"]?.double ?? (j["atol"] != nil ? 0 : nil) else { return nil }
        return Tolerance(rtol: r, atol: j["atol"]?.double ?? 0, exact: false)
    }

    /// The tolerance of output `key`: a per-output entry wins over the case-wide one.
    static func forOutput(_ key: String, in tol: JSON?) -> Tolerance {
        if let per = from(tol?[key]) { return per }
        if let all = from(tol) { return all }
        return Tolerance(rtol: 1e-6, atol: 1e-9, exact: false)
    }
}

/// Accumulates comparisons of one case.
struct Checker {
    let tol: JSON?
    var maxAbs = 0.0
    var maxRel = 0.0
    var compared = 0
    var failures: [String] = []

    init(tol: JSON?) { self.tol = tol }

    /// Compares `got` with the expected JSON (tensor, number or list of numbers) under the tolerance of `toleranceKey`.
    mutating func check(_ name: String, _ got: [Double], _ want: JSON?, toleranceKey: String) throws(GradusError) {
        guard let want, !want.isNull else { return }
        let expected: [Double]
        if want["data"] != nil { expected = try GoldenCase.tensor(want, name).data }
        else if let flat = want.flatDoubles { expected = flat }
        else { throw .format("\(name): expected value is neither a tensor nor numbers") }
        guard expected.count == got.count else {
            failures.append("\(name): \(got.count) values, expected \(expected.count)")
            return
        }
        let t = Tolerance.forOutput(toleranceKey, in: tol)
        var worst = -1, worstExcess = 0.0
        for i in 0..<got.count {
            let g = got[i], w = expected[i]
            let err = abs(g - w)
            let ok: Bool
            if t.exact { ok = g == w }
            else { ok = err <= t.atol + t.rtol * abs(w) }
            if err.isNaN || !ok {
                let excess = err.isNaN ? Double.infinity : err - (t.atol + t.rtol * abs(w))
                if worst < 0 || excess > worstExcess { worst = i; worstExcess = excess }
            }
            if err.isNaN { maxAbs = .nan } else {
                maxAbs = max(maxAbs, err)
                if w != 0 { maxRel = max(maxRel, err / abs(w)) }
            }
        }
        compared += got.count
        if worst >= 0 {
            failures.append("\(name)[\(worst)]: got \(got[worst]), want \(expected[worst])")
        }
    }

    mutating func check(_ name: String, _ got: Double, _ want: JSON?, toleranceKey: String) throws(GradusError) {
        try check(name, [got], want, toleranceKey: toleranceKey)
    }
}
