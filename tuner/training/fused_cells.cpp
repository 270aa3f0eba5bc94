// Fused recurrent layers for the CPU: the recurrence of one window, forward and backward.
// Softsign LSTM, GRU and plain RNN (torch's layers cannot change their tanh), and tanh GRU
// and plain RNN (torch's CPU nn.GRU and nn.RNN are slower than these; its nn.LSTM is not).
//
// The input projection x W_ih^T + b of the whole window is one matmul done outside (by
// torch, with autograd). Here, per time step: one addmm for h W_hh^T, then one pass over
// memory for all gate maths (torch would launch a dozen elementwise kernels). The backward
// pass runs the same recurrence in reverse and leaves the weight gradient to a single
// matmul over all steps.
//
// Layout: time-major, xproj (T, B, G*H); h0, c0 (B, H); w_hh (G*H, H); gates as torch's own
// layers order them. softsign(x) = x / (1 + |x|), softsign'(x) = (1 - |softsign(x)|)^2.
// Where a comment below says softsign, a GRU or RNN may have tanh instead (activate<>).
#include <ATen/ATen.h>
#include <torch/library.h>
#include <ATen/Parallel.h>
#include <cmath>
#include <type_traits>
#include <vector>

namespace {

template <typename T> inline T softsign(T x) { return x / (T(1) + std::abs(x)); }

// The GRU and plain RNN take either activation: softsign (the reason these exist) or tanh, where
// torch's CPU nn.GRU and nn.RNN are slower than this code. Tag types let the compiler specialise
// (and vectorise) each inner loop for one activation.
template <typename T, bool Soft> inline T activate(T x) {
  if constexpr (Soft) {
    return softsign(x);
  } else {  // tanh(x) = 1 - 2 / (e^2x + 1): exp vectorises (libmvec), std::tanh does not; e^2x = inf gives 1
    return T(1) - T(2) / (std::exp(T(2) * x) + T(1));
  }
}
// Its derivative, from the activation's output y: softsign' = (1 - |y|)^2, tanh' = 1 - y^2.
template <typename T, bool Soft> inline T activation_grad(T y) {
  if constexpr (Soft) { const T m = T(1) - std::abs(y); return m * m; } else return T(1) - y * y;
}
template <typename F> void with_activation(bool softsign_activation, F&& body) {
  if (softsign_activation) body(std::true_type{}); else body(std::false_type{});
}

// dL/dW_hh = sum over steps of d_rec[t]^T h_{t-1}, as one matmul: d_rec (T, B, G*H), hs (T, B, H).
at::Tensor recurrent_weight_grad(const at::Tensor& d_rec, const at::Tensor& hs, const at::Tensor& h0) {
  const auto steps = hs.size(0), batch = hs.size(1), hidden = hs.size(2);
  auto h_prev = at::cat({h0.unsqueeze(0), hs.narrow(0, 0, steps - 1)}, 0);  // h0, then hs[0..T-2]
  return at::mm(d_rec.reshape({steps * batch, d_rec.size(2)}).t(), h_prev.reshape({steps * batch, hidden}));
}

}  // namespace

// ---- LSTM: gates [i | f | g | o]; xproj holds x W_ih^T + b_ih + b_hh. ----

// Returns hs (T, B, H), cs (T, B, H), acts (T, B, 4H): the activated gates, kept for backward.
// acts is xproj itself: each step's recurrent matmul is added into it and activated in place,
// which spares a copy and an allocation per step (xproj is a temporary of the caller's).
std::vector<at::Tensor> lstm_forward(at::Tensor xproj, at::Tensor w_hh, at::Tensor h0, at::Tensor c0) {
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
std::vector<at::Tensor> lstm_backward(at::Tensor grad_hs, at::Tensor grad_c_last, at::Tensor hs,
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
  auto d_w_hh = recurrent_weight_grad(d_gates, hs, h0);
  return {d_gates, d_w_hh, dh_next, dc_next};
}

// ---- GRU: gates [r | z | n]; xproj holds x W_ih^T + b_ih. As in torch's GRU, the recurrent
// part of n is (h W_hn^T + b_hn), gated by r, so b_hh stays apart from xproj:
//   r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), n = softsign(x_n + r * h_n), h' = (1 - z) n + z h

// Returns hs (T, B, H), acts (T, B, 3H): r, z, n (xproj, overwritten), hns (T, B, H): h_n.
std::vector<at::Tensor> gru_forward(at::Tensor xproj, at::Tensor w_hh, at::Tensor b_hh, at::Tensor h0,
                                    bool softsign_activation) {
  const auto steps = xproj.size(0), batch = xproj.size(1), hidden = h0.size(1);
  auto hs = at::empty({steps, batch, hidden}, xproj.options());
  auto hns = at::empty({steps, batch, hidden}, xproj.options());
  auto rec = at::empty({batch, 3 * hidden}, xproj.options());
  auto acts = xproj;
  auto w_t = w_hh.t();
  auto h = h0.contiguous();
  with_activation(softsign_activation, [&](auto soft) {
    AT_DISPATCH_FLOATING_TYPES(xproj.scalar_type(), "gru_forward", [&] {
      scalar_t* h_all = hs.data_ptr<scalar_t>();
      scalar_t* hn_all = hns.data_ptr<scalar_t>();
      for (int64_t t = 0; t < steps; ++t) {
        at::addmm_out(rec, b_hh, h, w_t);  // h W_hh^T + b_hh (B, 3H)
        auto gates = acts[t];
        gates.narrow(1, 0, 2 * hidden).add_(rec.narrow(1, 0, 2 * hidden)).sigmoid_();  // r, z
        scalar_t* a = gates.data_ptr<scalar_t>();
        const scalar_t* rb = rec.data_ptr<scalar_t>();
        const scalar_t* h_prev = h.data_ptr<scalar_t>();
        scalar_t* h_new = h_all + t * batch * hidden;
        scalar_t* hn_new = hn_all + t * batch * hidden;
        at::parallel_for(0, batch, 8, [&](int64_t begin, int64_t end) {
          for (int64_t b = begin; b < end; ++b) {
            scalar_t* ab = a + b * 3 * hidden;
            for (int64_t j = 0; j < hidden; ++j) {
              const int64_t k = b * hidden + j;
              const scalar_t r = ab[j], z = ab[hidden + j], hn = rb[b * 3 * hidden + 2 * hidden + j];
              const scalar_t n = activate<scalar_t, decltype(soft)::value>(ab[2 * hidden + j] + r * hn);
              ab[2 * hidden + j] = n;
              hn_new[k] = hn;
              h_new[k] = (scalar_t(1) - z) * n + z * h_prev[k];
            }
          }
        });
        h = hs[t];
      }
    });
  });
  return {hs, acts, hns};
}

// Returns d_xproj (T, B, 3H), d_w_hh (3H, H), d_b_hh (3H), d_h0 (B, H).
std::vector<at::Tensor> gru_backward(at::Tensor grad_hs, at::Tensor hs, at::Tensor acts, at::Tensor hns,
                                     at::Tensor w_hh, at::Tensor h0, bool softsign_activation) {
  const auto steps = hs.size(0), batch = hs.size(1), hidden = hs.size(2);
  auto d_x = at::empty_like(acts);
  auto d_rec = at::empty_like(acts);  // gradient of h W_hh^T + b_hh: differs from d_x in n's slice (times r)
  auto dh_next = at::zeros({batch, hidden}, hs.options());
  auto dh_direct = at::empty({batch, hidden}, hs.options());
  auto h0c = h0.contiguous();
  grad_hs = grad_hs.contiguous();
  with_activation(softsign_activation, [&](auto soft) {
    AT_DISPATCH_FLOATING_TYPES(hs.scalar_type(), "gru_backward", [&] {
      for (int64_t t = steps - 1; t >= 0; --t) {
        const scalar_t* a = acts[t].data_ptr<scalar_t>();
        const scalar_t* hn = hns.data_ptr<scalar_t>() + t * batch * hidden;
        const scalar_t* h_prev = t > 0 ? hs.data_ptr<scalar_t>() + (t - 1) * batch * hidden : h0c.data_ptr<scalar_t>();
        const scalar_t* gh = grad_hs.data_ptr<scalar_t>() + t * batch * hidden;
        const scalar_t* dhn = dh_next.data_ptr<scalar_t>();
        scalar_t* dxb_all = d_x[t].data_ptr<scalar_t>();
        scalar_t* drb_all = d_rec[t].data_ptr<scalar_t>();
        scalar_t* dd = dh_direct.data_ptr<scalar_t>();
        at::parallel_for(0, batch, 8, [&](int64_t begin, int64_t end) {
          for (int64_t b = begin; b < end; ++b) {
            const scalar_t* ab = a + b * 3 * hidden;
            scalar_t* dxb = dxb_all + b * 3 * hidden;
            scalar_t* drb = drb_all + b * 3 * hidden;
            for (int64_t j = 0; j < hidden; ++j) {
              const int64_t k = b * hidden + j;
              const scalar_t r = ab[j], z = ab[hidden + j], n = ab[2 * hidden + j];
              const scalar_t dh = gh[k] + dhn[k];
              const scalar_t d_pre_n = dh * (scalar_t(1) - z) * activation_grad<scalar_t, decltype(soft)::value>(n);
              const scalar_t d_pre_r = d_pre_n * hn[k] * r * (scalar_t(1) - r);
              const scalar_t d_pre_z = dh * (h_prev[k] - n) * z * (scalar_t(1) - z);
              dxb[j] = drb[j] = d_pre_r;
              dxb[hidden + j] = drb[hidden + j] = d_pre_z;
              dxb[2 * hidden + j] = d_pre_n;
              drb[2 * hidden + j] = d_pre_n * r;
              dd[k] = dh * z;
            }
          }
        });
        dh_next = at::addmm(dh_direct, d_rec[t], w_hh);  // (B, H)
      }
    });
  });
  return {d_x, recurrent_weight_grad(d_rec, hs, h0), d_rec.sum({0, 1}), dh_next};
}

// ---- plain RNN: h' = softsign(x W_ih^T + b_ih + b_hh + h W_hh^T); xproj holds the first three terms.

// Returns hs (T, B, H). xproj is used as scratch space for the pre-activations.
at::Tensor rnn_forward(at::Tensor xproj, at::Tensor w_hh, at::Tensor h0, bool softsign_activation) {
  const auto steps = xproj.size(0), batch = xproj.size(1), hidden = h0.size(1);
  auto hs = at::empty({steps, batch, hidden}, xproj.options());
  auto w_t = w_hh.t();
  auto h = h0.contiguous();
  with_activation(softsign_activation, [&](auto soft) {
    AT_DISPATCH_FLOATING_TYPES(xproj.scalar_type(), "rnn_forward", [&] {
      for (int64_t t = 0; t < steps; ++t) {
        auto pre = xproj[t];
        pre.addmm_(h, w_t);
        const scalar_t* p = pre.data_ptr<scalar_t>();
        scalar_t* h_new = hs.data_ptr<scalar_t>() + t * batch * hidden;
        at::parallel_for(0, batch * hidden, 2048, [&](int64_t begin, int64_t end) {
          for (int64_t k = begin; k < end; ++k) h_new[k] = activate<scalar_t, decltype(soft)::value>(p[k]);
        });
        h = hs[t];
      }
    });
  });
  return hs;
}

// Returns d_xproj (T, B, H), d_w_hh (H, H), d_h0 (B, H).
std::vector<at::Tensor> rnn_backward(at::Tensor grad_hs, at::Tensor hs, at::Tensor w_hh, at::Tensor h0,
                                     bool softsign_activation) {
  const auto steps = hs.size(0), batch = hs.size(1), hidden = hs.size(2);
  auto d_pre = at::empty_like(hs);
  auto dh_next = at::zeros({batch, hidden}, hs.options());
  grad_hs = grad_hs.contiguous();
  with_activation(softsign_activation, [&](auto soft) {
    AT_DISPATCH_FLOATING_TYPES(hs.scalar_type(), "rnn_backward", [&] {
      for (int64_t t = steps - 1; t >= 0; --t) {
        const scalar_t* h = hs.data_ptr<scalar_t>() + t * batch * hidden;
        const scalar_t* gh = grad_hs.data_ptr<scalar_t>() + t * batch * hidden;
        const scalar_t* dhn = dh_next.data_ptr<scalar_t>();
        scalar_t* dp = d_pre.data_ptr<scalar_t>() + t * batch * hidden;
        at::parallel_for(0, batch * hidden, 2048, [&](int64_t begin, int64_t end) {
          for (int64_t k = begin; k < end; ++k) {
            dp[k] = (gh[k] + dhn[k]) * activation_grad<scalar_t, decltype(soft)::value>(h[k]);
          }
        });
        dh_next = at::mm(d_pre[t], w_hh);
      }
    });
  });
  auto d_w_hh = recurrent_weight_grad(d_pre, hs, h0);
  return {d_pre, d_w_hh, dh_next};
}

// Registered as torch operators (torch.ops.tuner_recurrent.*), not a pybind11 module:
// ATen's headers alone compile in about a third of the time torch/extension.h takes.
TORCH_LIBRARY(tuner_recurrent, m) {
  m.def("lstm_forward", &lstm_forward);
  m.def("lstm_backward", &lstm_backward);
  m.def("gru_forward", &gru_forward);
  m.def("gru_backward", &gru_backward);
  m.def("rnn_forward", &rnn_forward);
  m.def("rnn_backward", &rnn_backward);
}
