// A fused softsign LSTM layer for the CPU: the recurrence of one window, forward and backward.
//
// The input projection x W_ih^T + b_ih + b_hh of the whole window is one matmul done
// outside (by torch, with autograd). Here, per time step: one addmm for h W_hh^T, then
// one pass over memory for all gate maths (torch would launch a dozen elementwise
// kernels). The backward pass runs the same recurrence in reverse and leaves the weight
// gradient to a single matmul over all steps.
//
// Layout: time-major. xproj (T, B, 4H) with gates [i | f | g | o]; h0, c0 (B, H);
// w_hh (4H, H). softsign(x) = x / (1 + |x|), softsign'(x) = (1 - |softsign(x)|)^2.
#include <ATen/ATen.h>
#include <torch/library.h>
#include <ATen/Parallel.h>
#include <cmath>
#include <vector>

namespace {

template <typename T> inline T softsign(T x) { return x / (T(1) + std::abs(x)); }

}  // namespace

// Returns hs (T, B, H), cs (T, B, H), acts (T, B, 4H): the activated gates, kept for backward.
// acts is xproj itself: each step's recurrent matmul is added into it and activated in place,
// which spares a copy and an allocation per step (xproj is a temporary of the caller's).
std::vector<at::Tensor> forward(at::Tensor xproj, at::Tensor w_hh, at::Tensor h0, at::Tensor c0) {
  const auto steps = xproj.size(0), batch = xproj.size(1), hidden = h0.size(1);
  auto hs = at::empty({steps, batch, hidden}, xproj.options());
  auto cs = at::empty({steps, batch, hidden}, xproj.options());
  auto acts = xproj;
  auto w_t = w_hh.t();
  auto h = h0.contiguous();
  auto c0c = c0.contiguous();
  AT_DISPATCH_FLOATING_TYPES(xproj.scalar_type(), "softsign_lstm_forward", [&] {
    scalar_t* h_all = hs.data_ptr<scalar_t>();
    scalar_t* c_all = cs.data_ptr<scalar_t>();
    for (int64_t t = 0; t < steps; ++t) {
      auto gates = acts[t];
      gates.addmm_(h, w_t);  // pre-activations (B, 4H), activated in place below
      gates.narrow(1, 0, 2 * hidden).sigmoid_();  // i, f: torch's vectorised sigmoid beats a scalar exp loop
      gates.narrow(1, 3 * hidden, hidden).sigmoid_();  // o
      scalar_t* a = gates.data_ptr<scalar_t>();
      const scalar_t* c_prev = t > 0 ? c_all + (t - 1) * batch * hidden : c0c.data_ptr<scalar_t>();
      scalar_t* c_new = c_all + t * batch * hidden;
      scalar_t* h_new = h_all + t * batch * hidden;
      at::parallel_for(0, batch, 8, [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
          scalar_t* ab = a + b * 4 * hidden;
          for (int64_t j = 0; j < hidden; ++j) {
            const scalar_t i = ab[j], f = ab[hidden + j], o = ab[3 * hidden + j];
            const scalar_t z = softsign(ab[2 * hidden + j]);
            const scalar_t cell = f * c_prev[b * hidden + j] + i * z;
            ab[2 * hidden + j] = z;
            c_new[b * hidden + j] = cell;
            h_new[b * hidden + j] = o * softsign(cell);
          }
        }
      });
      h = hs[t];
    }
  });
  return {hs, cs, acts};
}

// Returns d_xproj (T, B, 4H), d_w_hh (4H, H), d_h0 (B, H), d_c0 (B, H).
std::vector<at::Tensor> backward(at::Tensor grad_hs, at::Tensor grad_c_last, at::Tensor hs,
                                 at::Tensor cs, at::Tensor acts, at::Tensor w_hh,
                                 at::Tensor h0, at::Tensor c0) {
  const auto steps = hs.size(0), batch = hs.size(1), hidden = hs.size(2);
  auto d_gates = at::empty_like(acts);
  auto dh_next = at::zeros({batch, hidden}, hs.options());
  auto dc_next = grad_c_last.contiguous().clone();
  auto c0c = c0.contiguous();  // kept alive: the loop reads it through a raw pointer
  grad_hs = grad_hs.contiguous();
  AT_DISPATCH_FLOATING_TYPES(hs.scalar_type(), "softsign_lstm_backward", [&] {
    for (int64_t t = steps - 1; t >= 0; --t) {
      const scalar_t* a = acts[t].data_ptr<scalar_t>();
      const scalar_t* cell = cs[t].data_ptr<scalar_t>();
      const scalar_t* c_prev = t > 0 ? cs.data_ptr<scalar_t>() + (t - 1) * batch * hidden : c0c.data_ptr<scalar_t>();
      const scalar_t* gh = grad_hs[t].data_ptr<scalar_t>();
      const scalar_t* dhn = dh_next.data_ptr<scalar_t>();
      scalar_t* dcn = dc_next.data_ptr<scalar_t>();
      scalar_t* dg = d_gates[t].data_ptr<scalar_t>();
      at::parallel_for(0, batch, 8, [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
          const scalar_t* ab = a + b * 4 * hidden;
          scalar_t* dgb = dg + b * 4 * hidden;
          for (int64_t j = 0; j < hidden; ++j) {
            const int64_t k = b * hidden + j;
            const scalar_t i = ab[j], f = ab[hidden + j], z = ab[2 * hidden + j], o = ab[3 * hidden + j];
            const scalar_t dh = gh[k] + dhn[k];
            const scalar_t sc = softsign(cell[k]);
            const scalar_t one_minus = scalar_t(1) - std::abs(sc);
            const scalar_t dc = dh * o * one_minus * one_minus + dcn[k];
            const scalar_t one_minus_z = scalar_t(1) - std::abs(z);
            dgb[j] = dc * z * i * (scalar_t(1) - i);
            dgb[hidden + j] = dc * c_prev[k] * f * (scalar_t(1) - f);
            dgb[2 * hidden + j] = dc * i * one_minus_z * one_minus_z;
            dgb[3 * hidden + j] = dh * sc * o * (scalar_t(1) - o);
            dcn[k] = dc * f;
          }
        }
      });
      dh_next = at::mm(d_gates[t], w_hh);  // (B, H)
    }
  });
  // h_{t-1} for every step: h0, then hs[0..T-2]
  auto h_prev = at::cat({h0.unsqueeze(0), hs.narrow(0, 0, steps - 1)}, 0);
  auto d_w_hh = at::mm(d_gates.reshape({steps * batch, 4 * hidden}).t(), h_prev.reshape({steps * batch, hidden}));
  return {d_gates, d_w_hh, dh_next, dc_next};
}

// Registered as torch operators (torch.ops.tuner_softsign_lstm.*), not a pybind11 module:
// ATen's headers alone compile in about a third of the time torch/extension.h takes.
TORCH_LIBRARY(tuner_softsign_lstm, m) {
  m.def("forward", &forward);
  m.def("backward", &backward);
}
