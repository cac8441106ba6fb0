import Glibc

/// A minimal SVG line chart: one or more named series over their index, with axes and labels.
/// No dependency; opens in any browser.
struct SVGPlot {
    var title: String
    var xLabel: String
    var yLabel: String
    var series: [(name: String, values: [Double])] = []
    let width = 720.0, height = 420.0, margin = 56.0

    func render() -> String {
        let all = series.flatMap { $0.values }.filter { $0.isFinite }
        let lo = all.min() ?? 0, hi0 = all.max() ?? 1
        let hi = hi0 > lo ? hi0 : lo + 1
        let n = max(series.map { $0.values.count }.max() ?? 1, 2)
        let pw = width - 2 * margin, ph = height - 2 * margin
        func px(_ i: Int) -> Double { margin + pw * Double(i) / Double(n - 1) }
        func py(_ v: Double) -> Double { margin + ph * (1 - (v - lo) / (hi - lo)) }
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(width / 2)\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>\n"
        s += "<line x1=\"\(margin)\" y1=\"\(height - margin)\" x2=\"\(width - margin)\" y2=\"\(height - margin)\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(margin)\" y1=\"\(margin)\" x2=\"\(margin)\" y2=\"\(height - margin)\" stroke=\"black\"/>\n"
        for k in 0...4 {
            let v = lo + (hi - lo) * Double(k) / 4
            s += "<text x=\"\(margin - 6)\" y=\"\(py(v) + 4)\" text-anchor=\"end\">\(label(v))</text>\n"
            s += "<line x1=\"\(margin)\" y1=\"\(py(v))\" x2=\"\(width - margin)\" y2=\"\(py(v))\" stroke=\"#eee\"/>\n"
        }
        s += "<text x=\"\(margin)\" y=\"\(height - margin + 18)\">0</text>\n"
        s += "<text x=\"\(width - margin)\" y=\"\(height - margin + 18)\" text-anchor=\"end\">\(n - 1)</text>\n"
        s += "<text x=\"\(width / 2)\" y=\"\(height - 14)\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text x=\"16\" y=\"\(height / 2)\" transform=\"rotate(-90 16 \(height / 2))\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        for (k, ser) in series.enumerated() {
            let c = colors[k % colors.count]
            // Thin long series so the file stays small.
            let stride = max(1, ser.values.count / 1500)
            var pts: [String] = []
            var i = 0
            while i < ser.values.count {
                if ser.values[i].isFinite { pts.append("\(fmt(px(i), 1)),\(fmt(py(ser.values[i]), 1))") }
                i += stride
            }
            s += "<polyline fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.4\" points=\"\(pts.joined(separator: " "))\"/>\n"
            s += "<text x=\"\(width - margin - 4)\" y=\"\(margin + 16 * Double(k + 1))\" text-anchor=\"end\" fill=\"\(c)\">\(escape(ser.name))</text>\n"
        }
        return s + "</svg>\n"
    }

    func label(_ v: Double) -> String { abs(v) >= 100 ? fmt(v, 0) : fmt(v, 3) }
    func escape(_ t: String) -> String {
        t.replacingAll("&", "&amp;").replacingAll("<", "&lt;").replacingAll(">", "&gt;")
    }

    /// Writes the SVG; returns false on failure.
    func write(to path: String) -> Bool {
        guard let f = fopen(path, "w") else { return false }
        defer { fclose(f) }
        return fputs(render(), f) >= 0
    }
}

extension String {
    func replacingAll(_ a: String, _ b: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: a) { out += rest[..<r.lowerBound]; out += b; rest = rest[r.upperBound...] }
        return out + rest
    }
}

extension Substring {
    func range(of needle: String) -> Range<Substring.Index>? {
        guard !needle.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(needle) { return i..<index(i, offsetBy: needle.count) }
            i = index(after: i)
        }
        return nil
    }
}
