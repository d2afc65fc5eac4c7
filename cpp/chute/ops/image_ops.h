#pragma once
// Built-in image ops that run in the engine's decode workers, fused with the decode where that
// saves work (RandomResizedCrop decodes only its region, at a reduced DCT scale).
// Random ops draw from (seed, epoch, sample index, op position): the same augmentation whatever
// thread or process runs it. Thread-safe: ops are immutable; scratch buffers are per thread.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chute/core/dtype.h"
#include "chute/format/chunk.h"

namespace chute {

enum class OpKind : uint8_t { RandomResizedCrop, Resize, CenterCrop, RandomHorizontalFlip, Normalize, ToCHW };

/// Every op's name, as the bindings expose OpKind (a new op adds its line here).
inline constexpr std::pair<OpKind, const char*> kOpKinds[] = {
    {OpKind::RandomResizedCrop, "RandomResizedCrop"},
    {OpKind::Resize, "Resize"},
    {OpKind::CenterCrop, "CenterCrop"},
    {OpKind::RandomHorizontalFlip, "RandomHorizontalFlip"},
    {OpKind::Normalize, "Normalize"},
    {OpKind::ToCHW, "ToCHW"},
};

struct ImageOp {
  OpKind kind;
  uint32_t height = 0, width = 0;          // RandomResizedCrop, Resize, CenterCrop
  double scale_lo = 0.08, scale_hi = 1.0;  // RandomResizedCrop
  double ratio_lo = 3.0 / 4.0, ratio_hi = 4.0 / 3.0;
  double p = 0.5;                // RandomHorizontalFlip
  std::vector<float> mean, std;  // Normalize (per channel, on 0..1 values)
};

/// A sequence of ops applied to each image of a tensor.
class ImagePipeline {
 public:
  ImagePipeline() = default;
  explicit ImagePipeline(std::vector<ImageOp> ops);
  bool empty() const { return ops_.empty(); }
  /// Converts every image to this many channels (gray to RGB, RGBA to RGB...); 0 keeps each image's own.
  void set_channels(uint32_t c) { channels_ = c; }
  /// Checks the ops against images of `channels` channels (0: not known until a sample comes):
  /// Normalize's mean and std have one value or one per channel, and no op's result is over the
  /// decoded-size cap. Throws InvalidArgument or ResourceError starting with `what` (the tensor).
  /// The constructor checks what it can without the channel count; run() checks each sample.
  void check_channels(uint32_t channels, const std::string& what) const;
  uint32_t channels() const { return channels_; }
  const std::vector<ImageOp>& ops() const { return ops_; }

  /// The output shape for an input of `in` (HWC), or an empty shape when it depends on the input.
  Shape output_shape(const Shape& in) const;
  /// True when every input gives the same output shape (a fixed-size op with known channels).
  bool fixed_size() const;
  DType output_dtype() const;

  /// Decodes `stored` (compression `c`, stored shape `shape`) and applies the ops into `out`
  /// (output_shape(shape) elements of output_dtype()).
  void run(Compression c, std::string_view stored, const Shape& shape, DType stored_dtype, uint64_t seed,
           uint64_t epoch, uint64_t index, uint8_t* out, const std::string& what) const;

 private:
  std::vector<ImageOp> ops_;
  uint32_t channels_ = 0;
};

/// The crop box torchvision's RandomResizedCrop would draw for an image of height x width.
void random_resized_crop_box(uint32_t height, uint32_t width, const ImageOp& op, uint64_t key, uint32_t& y, uint32_t& x,
                             uint32_t& h, uint32_t& w);
/// Bilinear resize of an 8-bit HWC image (half-pixel centers, as PIL and OpenCV); `mirror` also
/// flips it left to right (the same bytes as a flip after the resize). Source rows are
/// `src_stride` bytes apart (0: sw * c).
void resize_bilinear(const uint8_t* src, uint32_t sh, uint32_t sw, uint32_t c, uint8_t* dst, uint32_t dh, uint32_t dw,
                     bool mirror = false, size_t src_stride = 0);

}  // namespace chute
