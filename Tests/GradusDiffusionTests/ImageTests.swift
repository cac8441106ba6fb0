import Foundation
import Testing
import GradusRuntime
@testable import GradusDiffusion

@Suite struct ImageTests {
    @Test func imageGridLayoutAndClipping() throws {
        // two 2×2 gray images: values −1 (black), 1 (white), 0 (mid) and 5 (clipped to white)
        let samples: [Float] = [-1, 1, 0, 5, 1, 1, 1, 1]
        let r = try ImageGrid.images(samples, count: 2, channels: 1, height: 2, width: 2, columns: 2, padding: 1)
        #expect(r.width == 2 * 2 + 3 && r.height == 2 + 2 && r.channels == 1)
        #expect(r.pixels[1 * r.width + 1] == 0)       // first image (0,0) = −1
        #expect(r.pixels[1 * r.width + 2] == 255)     // (0,1) = 1
        #expect(r.pixels[2 * r.width + 1] == 128)     // (1,0) = 0 → 127.5 rounds to 128
        #expect(r.pixels[2 * r.width + 2] == 255)     // clipped
        #expect(r.pixels[0] == 128)                   // padding background
        #expect(throws: GradusError.self) { try ImageGrid.images(samples, count: 3, channels: 1, height: 2, width: 2) }
        #expect(throws: GradusError.self) { try ImageGrid.images(samples, count: 1, channels: 2, height: 2, width: 2) }
        let up = r.upscaled(3)
        #expect(up.width == 3 * r.width && up.pixels[(3 * up.width + 3)] == r.pixels[r.width + 1])
    }

    @Test func scatterDrawsClassColours() throws {
        let r = try ImageGrid.scatter([0, 0, 3.9, 3.9], classes: [0, 1], size: 64, extent: 4)
        #expect(r.channels == 3 && r.width == 64)
        let centre = (32 * 64 + 32) * 3
        #expect(Array(r.pixels[centre..<(centre + 3)]) == ImageGrid.palette[0])
        #expect(throws: GradusError.self) { try ImageGrid.scatter([0, 0, 1], size: 64) }
        #expect(throws: GradusError.self) { try ImageGrid.scatter([0, 0], classes: [0, 1], size: 64) }
        #expect(throws: GradusError.self) { try Raster.tiled([], columns: 2) }
    }
}
