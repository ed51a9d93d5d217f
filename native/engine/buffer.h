// A zeroed, 64-byte aligned float array with readable slack after its end
// (kernels may load whole vectors past the last valid column).
#pragma once
#include <cstdlib>
#include <cstring>
#include <new>

namespace inrscape::engine {

class FloatBuffer {
 public:
  static constexpr long kSlack = 64;
  FloatBuffer() = default;
  explicit FloatBuffer(long n) : n_(n) {
    const size_t bytes = ((static_cast<size_t>(n + kSlack) * sizeof(float)) + 63) / 64 * 64;
    p_ = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (!p_) throw std::bad_alloc();
    std::memset(p_, 0, bytes);
  }
  ~FloatBuffer() { std::free(p_); }
  FloatBuffer(FloatBuffer&& o) noexcept : p_(o.p_), n_(o.n_) {
    o.p_ = nullptr;
    o.n_ = 0;
  }
  FloatBuffer& operator=(FloatBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  FloatBuffer(const FloatBuffer&) = delete;
  FloatBuffer& operator=(const FloatBuffer&) = delete;

  float* data() { return p_; }
  const float* data() const { return p_; }
  long size() const { return n_; }
  float& operator[](long i) { return p_[i]; }
  float operator[](long i) const { return p_[i]; }

 private:
  float* p_ = nullptr;
  long n_ = 0;
};

}  // namespace inrscape::engine
