import Foundation
import Testing
import CZlib
import GradusRuntime
@testable import GradusData

/// The PNG writer (issue 6): signature, chunk layout and CRCs, and the IDAT payload inflating back to the
/// filtered scanlines.
@Suite struct PNGTests {
    static func chunks(_ b: [UInt8]) -> [(type: String, data: [UInt8], crcOK: Bool)] {
        var out: [(String, [UInt8], Bool)] = []
        var i = 8
        func be(_ at: Int) -> UInt32 { UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3]) }
        while i + 12 <= b.count {
            let n = Int(be(i))
            let type = String(decoding: b[(i + 4)..<(i + 8)], as: UTF8.self)
            let body = Array(b[(i + 4)..<(i + 8 + n)])
            let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
            out.append((type, Array(b[(i + 8)..<(i + 8 + n)]), UInt32(crc) == be(i + 8 + n)))
            i += 12 + n
        }
        return out
    }

    @Test(arguments: [PNG.ColorType.gray, .rgb])
    func roundTripsThroughZlib(_ color: PNG.ColorType) throws {
        let w = 5, h = 3, ch = color == .gray ? 1 : 3
        let pixels = (0..<(w * h * ch)).map { UInt8(($0 * 37) % 256) }
        let png = try PNG.encode(pixels: pixels, width: w, height: h, color: color)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let cs = Self.chunks(png)
        #expect(cs.map(\.type) == ["IHDR", "IDAT", "IEND"])
        #expect(cs.allSatisfy { $0.crcOK })
        #expect(cs[0].data == [0, 0, 0, 5, 0, 0, 0, 3, 8, color == .gray ? 0 : 2, 0, 0, 0])
        var raw = [UInt8](repeating: 0, count: (w * ch + 1) * h)
        var len = uLongf(raw.count)
        let idat = cs[1].data
        let status = raw.withUnsafeMutableBufferPointer { r in idat.withUnsafeBufferPointer { uncompress(r.baseAddress, &len, $0.baseAddress, uLong($0.count)) } }
        #expect(status == Z_OK && Int(len) == raw.count)
        for y in 0..<h {
            #expect(raw[y * (w * ch + 1)] == 0)
            #expect(Array(raw[(y * (w * ch + 1) + 1)..<((y + 1) * (w * ch + 1))]) == Array(pixels[(y * w * ch)..<((y + 1) * w * ch)]))
        }
    }

    @Test func rejectsBadInput() {
        #expect(throws: GradusError.self) { try PNG.encode(pixels: [1, 2, 3], width: 2, height: 2, color: .gray) }
        #expect(throws: GradusError.self) { try PNG.encode(pixels: [], width: 0, height: 1, color: .gray) }
        #expect(throws: GradusError.self) { try PNG.encode(pixels: [0], width: 1, height: 1, color: .gray, level: 12) }
    }

    @Test func writesAFile() throws {
        let path = NSTemporaryDirectory() + "gradus-png-\(getpid()).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try PNG.write(path, pixels: [UInt8](repeating: 200, count: 12), width: 2, height: 2, color: .rgb)
        let bytes = try FileIO.readAll(path)
        #expect(bytes.count > 8 && bytes[1] == 0x50)
    }
}
