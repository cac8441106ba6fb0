import GradusRuntime

/// A numeric table read from a CSV file: named columns, values stored row-major as `Double`.
public struct CSVTable: Sendable, Equatable {
    /// Column names from the header row, or `column0`, `column1`, ... without one.
    public let columnNames: [String]
    /// Number of data rows.
    public let rowCount: Int
    /// `rowCount * columnNames.count` values, row-major. Empty fields are NaN.
    public let values: [Double]

    public var columnCount: Int { columnNames.count }

    /// Index of the column called `name`; throws `.notFound`.
    public func columnIndex(_ name: String) throws(GradusError) -> Int {
        guard let i = columnNames.firstIndex(of: name) else {
            throw .notFound("no CSV column named '\(name)' (columns: \(columnNames.joined(separator: ", ")))")
        }
        return i
    }

    /// The values of one column.
    public func column(_ index: Int) throws(GradusError) -> [Double] {
        guard index >= 0, index < columnCount else { throw .invalidArgument("column \(index) out of range 0..<\(columnCount)") }
        return (0..<rowCount).map { values[$0 * columnCount + index] }
    }

    /// The values of the column called `name`.
    public func column(named name: String) throws(GradusError) -> [Double] { try column(try columnIndex(name)) }
}

/// A small RFC 4180 CSV reader for numeric data: quoted fields, `""` escapes, CRLF or LF line ends.
public enum CSV {
    /// Reads a numeric CSV file.
    ///
    /// - Parameters:
    ///   - hasHeader: the first row names the columns (default `true`).
    ///   - delimiter: field separator (default `,`).
    /// - Throws: `.io` if unreadable; `.format` for ragged rows, unterminated quotes or non-numeric
    ///   fields (with row and column).
    public static func read(_ path: String, hasHeader: Bool = true, delimiter: Character = ",") throws(GradusError) -> CSVTable {
        try parse(try FileIO.readAll(path), hasHeader: hasHeader, delimiter: delimiter, name: path)
    }

    /// Parses CSV text given as UTF-8 bytes.
    public static func parse(_ bytes: [UInt8], hasHeader: Bool = true, delimiter: Character = ",",
                             name: String = "<csv>") throws(GradusError) -> CSVTable {
        guard let d = delimiter.asciiValue, d != UInt8(ascii: "\""), d != 0x0A, d != 0x0D else {
            throw .invalidArgument("delimiter must be an ASCII character other than quote or newline")
        }
        let rows = try splitRows(bytes, delimiter: d, name: name)
        var dataRows = rows[...]
        var names: [String]
        if hasHeader {
            guard let first = rows.first else { throw .format("'\(name)': empty CSV, expected a header row") }
            names = first.map { $0.trimmingSpaces }
            dataRows = rows.dropFirst()
        } else {
            names = (0..<(rows.first?.count ?? 0)).map { "column\($0)" }
        }
        var values: [Double] = []
        values.reserveCapacity(dataRows.count * names.count)
        for (r, row) in dataRows.enumerated() {
            let line = r + (hasHeader ? 2 : 1)
            guard row.count == names.count else {
                throw .format("'\(name)': row \(line) has \(row.count) fields, expected \(names.count)")
            }
            for (c, field) in row.enumerated() {
                let text = field.trimmingSpaces
                if text.isEmpty { values.append(.nan); continue }
                guard let v = Double(text) else {
                    throw .format("'\(name)': row \(line), column '\(names[c])': '\(text)' is not a number")
                }
                values.append(v)
            }
        }
        return CSVTable(columnNames: names, rowCount: dataRows.count, values: values)
    }

    /// Splits into rows of raw fields; skips blank lines.
    static func splitRows(_ b: [UInt8], delimiter: UInt8, name: String) throws(GradusError) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var fieldStarted = false
        var i = 0
        var line = 1
        func endField() { row.append(String(decoding: field, as: UTF8.self)); field.removeAll(keepingCapacity: true); fieldStarted = false }
        func endRow() {
            if row.isEmpty && field.isEmpty && !fieldStarted { return }  // blank line
            endField(); rows.append(row); row = []
        }
        while i < b.count {
            let c = b[i]
            if inQuotes {
                if c == UInt8(ascii: "\"") {
                    if i + 1 < b.count, b[i + 1] == UInt8(ascii: "\"") { field.append(c); i += 2; continue }
                    inQuotes = false
                } else {
                    if c == 0x0A { line += 1 }
                    field.append(c)
                }
                i += 1
                continue
            }
            switch c {
            case UInt8(ascii: "\""): inQuotes = true; fieldStarted = true
            case delimiter: endField(); fieldStarted = true
            case 0x0D: break
            case 0x0A: endRow(); line += 1
            default: field.append(c)
            }
            i += 1
        }
        guard !inQuotes else { throw .format("'\(name)': unterminated quoted field (line \(line))") }
        endRow()
        return rows
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
