import GradusRuntime
import GradusTensor
import GradusNN

/// A small class-conditional convolutional denoiser for images `(B, C, H, W)` with even `H`, `W` (28×28
/// Fashion-MNIST): a one-level U-Net.
///
/// ```
/// h₀ = silu(conv_in(x) + c₁)                      (B, w, H, W)
/// h₁ = silu(down(h₀) + c₂)                        (B, 2w, H/2, W/2)   3×3 stride 2
/// h₂ = silu(mid(h₁) + c₂)                         (B, 2w, H/2, W/2)
/// u  = silu(up(nearest×2(h₂)) + c₁)               (B, w, H, W)
/// out = conv_out(silu(fuse(concat[u, h₀])))       (B, C, H, W)
/// ```
/// `c₁`, `c₂` are per-channel projections of the `ConditioningEmbedding` of (timestep, label).
public final class DenoiserConvNet: Module, ConditionalDenoiser, @unchecked Sendable {
    public let numClasses: Int
    public let channels: Int, height: Int, width: Int
    public let baseWidth: Int
    public let dtype: DType
    public let conditioning: ConditioningEmbedding
    public let cond1: Linear, cond2: Linear
    public let convIn: Conv2d, down: Conv2d, mid: Conv2d, up: Conv2d, fuse: Conv2d, convOut: Conv2d

    public var sampleShape: [Int] { [channels, height, width] }

    /// - Parameters: image shape (channels, height, width; even sizes); numClasses; baseWidth `w` (default 16);
    ///   dtype (default float32); seed (default 0).
    public init(channels: Int = 1, height: Int = 28, width: Int = 28, numClasses: Int, baseWidth: Int = 16,
                dtype: DType = .float32, seed: UInt64 = 0) throws(GradusError) {
        guard channels >= 1, height >= 2, width >= 2, height % 2 == 0, width % 2 == 0, baseWidth >= 1 else {
            throw .invalidArgument("DenoiserConvNet: needs positive channels/width and even image sizes, got \(channels)×\(height)×\(width)")
        }
        self.numClasses = numClasses; self.channels = channels; self.height = height; self.width = width
        self.baseWidth = baseWidth; self.dtype = dtype
        let w = baseWidth, e = 4 * w
        conditioning = try ConditioningEmbedding(numClasses: numClasses, width: e, dtype: dtype, seed: seed &+ 100)
        cond1 = try Linear(e, w, dtype: dtype, seed: seed &+ 1)
        cond2 = try Linear(e, 2 * w, dtype: dtype, seed: seed &+ 3)
        convIn = try Conv2d(channels, w, kernelSize: 3, padding: 1, dtype: dtype, seed: seed &+ 5)
        down = try Conv2d(w, 2 * w, kernelSize: 3, stride: 2, padding: 1, dtype: dtype, seed: seed &+ 7)
        mid = try Conv2d(2 * w, 2 * w, kernelSize: 3, padding: 1, dtype: dtype, seed: seed &+ 9)
        up = try Conv2d(2 * w, w, kernelSize: 3, padding: 1, dtype: dtype, seed: seed &+ 11)
        fuse = try Conv2d(2 * w, w, kernelSize: 3, padding: 1, dtype: dtype, seed: seed &+ 13)
        convOut = try Conv2d(w, channels, kernelSize: 3, padding: 1, dtype: dtype, seed: seed &+ 15)
        super.init()
    }

    override public var children: [(String, Module)] {
        [("conditioning", conditioning), ("cond1", cond1), ("cond2", cond2), ("conv_in", convIn), ("down", down),
         ("mid", mid), ("up", up), ("fuse", fuse), ("conv_out", convOut)]
    }

    /// Nearest-neighbour ×2 upsampling `(B, C, H, W) → (B, C, 2H, 2W)` from views (differentiable).
    static func upsampled(_ x: Tensor) throws(GradusError) -> Tensor {
        let b = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        return try x.reshaped([b, c, h, 1, w, 1]).expanded(to: [b, c, h, 2, w, 2]).contiguous().reshaped([b, c, 2 * h, 2 * w])
    }

    public func predict(_ x: Tensor, timesteps: [Double], labels: [Int]) throws(GradusError) -> Tensor {
        guard x.rank == 4, Array(x.shape.dropFirst()) == sampleShape else {
            throw .shapeMismatch("DenoiserConvNet: x must be (B, \(channels), \(height), \(width)), got \(x.shape)")
        }
        let b = x.shape[0]
        try checkConditioning(batch: b, timesteps: timesteps, labels: labels)
        let e = try conditioning.embed(timesteps: timesteps, labels: labels, dtype: dtype).silu()
        let c1 = try cond1(e).reshaped([b, baseWidth, 1, 1]), c2 = try cond2(e).reshaped([b, 2 * baseWidth, 1, 1])
        let h0 = try (try convIn(x) + c1).silu()
        let h1 = try (try down(h0) + c2).silu()
        let h2 = try (try mid(h1) + c2).silu()
        let u = try (try up(try Self.upsampled(h2)) + c1).silu()
        return try convOut(try fuse(try Tensor.concat([u, h0], axis: 1)).silu())
    }
}
