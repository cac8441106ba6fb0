import GradusRuntime

/// An 8-bit raster: `height × width × channels` bytes, row-major (channels 1 = gray, 3 = RGB) — what a PNG writer
/// (GradusData's `PNG`) takes.
public struct Raster: Sendable, Equatable {
    public var width: Int, height: Int, channels: Int
    public var pixels: [UInt8]

    /// A raster filled with `fill` (one value per channel).
    public init(width: Int, height: Int, channels: Int, fill: [UInt8]) {
        self.width = width; self.height = height; self.channels = channels
        pixels = [UInt8](repeating: 0, count: width * height * channels)
        for p in 0..<(width * height) { for c in 0..<channels { pixels[p * channels + c] = fill[c % fill.count] } }
    }

    /// Sets pixel `(x, y)` when inside.
    public mutating func set(_ x: Int, _ y: Int, _ color: [UInt8]) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        for c in 0..<channels { pixels[(y * width + x) * channels + c] = color[c % color.count] }
    }

    /// Copies `other` (same channel count) with its top-left corner at `(x, y)`, clipped.
    public mutating func paste(_ other: Raster, x: Int, y: Int) {
        for r in 0..<other.height { for q in 0..<other.width {
            let tx = x + q, ty = y + r
            guard tx >= 0, ty >= 0, tx < width, ty < height else { continue }
            for c in 0..<channels { pixels[(ty * width + tx) * channels + c] = other.pixels[(r * other.width + q) * other.channels + c % other.channels] }
        } }
    }

    /// Tiles equally sized rasters in rows of `columns`, `padding` pixels apart, on a `background`.
    /// - Throws: `GradusError.invalidArgument` when the tiles differ in size or channels, or columns < 1.
    public static func tiled(_ tiles: [Raster], columns: Int, padding: Int = 2, background: [UInt8] = [255]) throws(GradusError) -> Raster {
        guard let first = tiles.first else { throw .invalidArgument("Raster.tiled: no tiles") }
        guard columns >= 1, padding >= 0 else { throw .invalidArgument("Raster.tiled: columns must be ≥ 1, padding ≥ 0") }
        for t in tiles where t.width != first.width || t.height != first.height || t.channels != first.channels {
            throw .invalidArgument("Raster.tiled: tiles differ in size or channels")
        }
        let cols = min(columns, tiles.count), rows = (tiles.count + columns - 1) / columns
        var out = Raster(width: cols * first.width + (cols + 1) * padding, height: rows * first.height + (rows + 1) * padding,
                         channels: first.channels, fill: background)
        for (i, t) in tiles.enumerated() {
            out.paste(t, x: padding + (i % columns) * (first.width + padding), y: padding + (i / columns) * (first.height + padding))
        }
        return out
    }
}

/// Turns samples into pictures.
public enum ImageGrid {
    /// A grid of images from flat samples `(N, C, H, W)` (`C` = 1 or 3), mapping `range` linearly to 0…255
    /// (values outside are clipped — so oversaturation shows as flat black/white regions).
    /// - Parameters: columns (default 8); range (default −1…1, the data range of normalised images); padding (2).
    /// - Throws: `GradusError.invalidArgument` for a channel count other than 1 or 3, or a wrong sample count.
    public static func images(_ samples: [Float], count: Int, channels: Int, height: Int, width: Int, columns: Int = 8,
                              range: (Double, Double) = (-1, 1), padding: Int = 2) throws(GradusError) -> Raster {
        guard channels == 1 || channels == 3 else { throw .invalidArgument("ImageGrid: channels must be 1 or 3, got \(channels)") }
        let per = channels * height * width
        guard count >= 1, height >= 1, width >= 1, samples.count == count * per else {
            throw .invalidArgument("ImageGrid: \(samples.count) values for \(count) images of \(channels)×\(height)×\(width)")
        }
        guard range.1 > range.0 else { throw .invalidArgument("ImageGrid: empty range") }
        var tiles: [Raster] = []
        for n in 0..<count {
            var r = Raster(width: width, height: height, channels: channels, fill: [0])
            for c in 0..<channels { for y in 0..<height { for x in 0..<width {
                let v = Double(samples[n * per + (c * height + y) * width + x])
                let u = ((v - range.0) / (range.1 - range.0) * 255).rounded()
                r.pixels[(y * width + x) * channels + c] = UInt8(max(0, min(255, u.isNaN ? 0 : u)))
            } } }
            tiles.append(r)
        }
        return try Raster.tiled(tiles, columns: columns, padding: padding, background: [128])
    }

    /// A qualitative palette (Tableau 10) for class colours.
    public static let palette: [[UInt8]] = [
        [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
        [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
    ]

    /// A scatter plot of 2-D points `(N, 2)` on a `size × size` RGB raster covering `[−extent, extent]²`, each
    /// point a 3×3 dot in its class colour (`classes[i]`, or black when nil); `reference` points (e.g. data) are drawn
    /// first in light grey. Axes through the origin in light grey.
    public static func scatter(_ points: [Float], classes: [Int]? = nil, reference: [Float] = [], size: Int = 256,
                               extent: Double = 4) throws(GradusError) -> Raster {
        guard points.count % 2 == 0, reference.count % 2 == 0 else { throw .invalidArgument("ImageGrid.scatter: points must be (N, 2)") }
        guard size >= 8, extent > 0 else { throw .invalidArgument("ImageGrid.scatter: size ≥ 8 and extent > 0 required") }
        if let classes, classes.count != points.count / 2 { throw .invalidArgument("ImageGrid.scatter: one class per point required") }
        var r = Raster(width: size, height: size, channels: 3, fill: [255])
        func pixel(_ v: Float, flip: Bool) -> Int {
            let u = (Double(v) + extent) / (2 * extent) * Double(size - 1)
            let p = Int(u.isFinite ? u.rounded() : -1)
            return flip ? size - 1 - p : p
        }
        for i in 0..<size { r.set(i, size / 2, [225, 225, 225]); r.set(size / 2, i, [225, 225, 225]) }
        for i in 0..<(reference.count / 2) {
            r.set(pixel(reference[2 * i], flip: false), pixel(reference[2 * i + 1], flip: true), [190, 190, 190])
        }
        for i in 0..<(points.count / 2) {
            let x = pixel(points[2 * i], flip: false), y = pixel(points[2 * i + 1], flip: true)
            let color = classes.map { palette[$0[i] % palette.count] } ?? [0, 0, 0]
            for dy in -1...1 { for dx in -1...1 { r.set(x + dx, y + dy, color) } }
        }
        return r
    }
}

extension Raster {
    /// Nearest-neighbour enlargement by an integer `factor` (≥ 1), so small samples (8×8, 28×28) are visible.
    public func upscaled(_ factor: Int) -> Raster {
        guard factor > 1 else { return self }
        var out = Raster(width: width * factor, height: height * factor, channels: channels, fill: [0])
        for y in 0..<out.height { for x in 0..<out.width { for c in 0..<channels {
            out.pixels[(y * out.width + x) * channels + c] = pixels[((y / factor) * width + x / factor) * channels + c]
        } } }
        return out
    }
}
