// libedgekit_et: a small C API over the ExecuTorch runtime, for Python's ctypes.
//
// Built by edge_kit/emulation/etruntime.py against the prebuilt libraries of the
// executorch wheel (libexecutorch.so + kernels, XNNPACK, threadpool, etdump).
// One handle = one loaded method (`forward`, or the one et_load_method names). Handles are not
// thread-safe.
// Every function that can fail returns 0 on success; on failure it returns a
// nonzero code and et_error(h) (or et_last_error() for et_load) says why,
// including the ExecuTorch log lines (level E/F) emitted during the call.
// Profiling modes (et_load's `profile`): 0 off, 1 per-instruction events kept in
// memory (et_profile_*), 2 ETDump (et_write_etdump; parse with devtools Inspector).

#include <executorch/devtools/etdump/etdump_flatcc.h>
#include <executorch/extension/data_loader/mmap_data_loader.h>
#include <executorch/extension/memory_allocator/malloc_memory_allocator.h>
#include <executorch/runtime/core/event_tracer.h>
#include <executorch/runtime/core/exec_aten/util/dim_order_util.h>
#include <executorch/runtime/executor/method.h>
#include <executorch/runtime/executor/program.h>
#include <executorch/runtime/platform/platform.h>
#include <executorch/runtime/platform/runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

// The wheel ships no threadpool.h; these two non-virtual members are all we call
// (declarations match extension/threadpool/threadpool.h of executorch 1.5).
namespace executorch::extension::threadpool {
class ThreadPool {
 public:
  size_t get_thread_count() const;
  bool _unsafe_reset_threadpool(uint32_t num_threads);
};
ThreadPool* get_threadpool();
}  // namespace executorch::extension::threadpool

#ifndef EDGEKIT_ET_VERSION
#define EDGEKIT_ET_VERSION "unknown"
#endif

using namespace executorch::runtime;
using executorch::aten::ScalarType;
using executorch::aten::TensorImpl;
using executorch::extension::MallocMemoryAllocator;
using executorch::extension::MmapDataLoader;

namespace {

constexpr int kMaxDims = 16;
thread_local std::string g_last_error;
thread_local std::string g_log_errors;  // E/F log lines since the last reset
std::mutex g_mutex;
int g_live_handles = 0;

void capture_log(et_timestamp_t, et_pal_log_level_t level, const char* file,
                 const char*, size_t line, const char* msg, size_t len) {
  if (level == kError || level == kFatal) {
    if (!g_log_errors.empty()) g_log_errors += "; ";
    g_log_errors.append(msg, strnlen(msg, len));
    while (!g_log_errors.empty() && g_log_errors.back() == '\n') g_log_errors.pop_back();
  }
  const char* verbose = getenv("EDGEKIT_ET_LOG");
  if (verbose && *verbose && *verbose != '0') {
    fprintf(stderr, "[et %c %s:%zu] %.*s\n", (char)level, file, line, (int)len, msg);
  }
}

// A function-local static rather than std::call_once: call_once pulls in
// pthread_once@GLIBC_2.34, which would raise the shim's glibc floor above the wheel's.
void init_once() {
  static const bool done = [] {
    register_pal(PalImpl::create(capture_log, "edgekit et_shim.cpp"));
    runtime_init();
    return true;
  }();
  (void)done;
}

double ticks_to_us(et_timestamp_t ticks) {
  et_tick_ratio_t r = et_pal_ticks_to_ns_multiplier();
  return (double)ticks * r.numerator / r.denominator / 1000.0;
}

struct Event {
  std::string name;
  int kind;  // 0 runtime event (OPERATOR_CALL, DELEGATE_CALL, Method::execute...), 1 delegate op
  int chain;
  int64_t handle;  // instruction index (kind 0) or delegate debug id (kind 1)
  et_timestamp_t start, end;
};

// Keeps every profiling event of the latest run in memory.
class Tracer : public EventTracer {
 public:
  std::vector<Event> events;
  void create_event_block(const char*) override {}
  EventTracerEntry start_profiling(const char* name, ChainID chain, DebugHandle handle) override {
    if (chain == kUnsetChainId) { chain = chain_id_; handle = debug_handle_; }
    return add(name ? name : "", 0, chain, handle, et_pal_current_ticks());
  }
  void end_profiling(EventTracerEntry e) override { events[e.event_id].end = et_pal_current_ticks(); }
  EventTracerEntry start_profiling_delegate(const char* name, DelegateDebugIntId id) override {
    return add(name ? name : "", 1, chain_id_, id, et_pal_current_ticks());
  }
  void end_profiling_delegate(EventTracerEntry e, const void*, size_t) override {
    events[e.event_id].end = et_pal_current_ticks();
  }
  void log_profiling_delegate(const char* name, DelegateDebugIntId id, et_timestamp_t start,
                              et_timestamp_t end, const void*, size_t) override {
    add(name ? name : "", 1, chain_id_, id, start);
    events.back().end = end;
  }
  void track_allocation(AllocatorID, size_t) override {}
  AllocatorID track_allocator(const char*) override { return 0; }
  Result<bool> log_evalue(const EValue&, LoggedEValueType) override { return true; }
  Result<bool> log_intermediate_output_delegate(const char*, DelegateDebugIntId,
                                                const executorch::aten::Tensor&) override { return true; }
  Result<bool> log_intermediate_output_delegate(
      const char*, DelegateDebugIntId, const ArrayRef<executorch::aten::Tensor>) override { return true; }
  Result<bool> log_intermediate_output_delegate(const char*, DelegateDebugIntId, const int&) override { return true; }
  Result<bool> log_intermediate_output_delegate(const char*, DelegateDebugIntId, const bool&) override { return true; }
  Result<bool> log_intermediate_output_delegate(const char*, DelegateDebugIntId, const double&) override { return true; }
  void set_delegation_intermediate_output_filter(EventTracerFilterBase*) override {}

 private:
  EventTracerEntry add(const char* name, int kind, int chain, int64_t handle, et_timestamp_t t) {
    events.push_back(Event{name, kind, chain, handle, t, t});
    EventTracerEntry e{};
    e.event_id = (int64_t)events.size() - 1;
    e.chain_id = chain;
    e.debug_handle = (DebugHandle)handle;
    e.start_time = t;
    e.delegate_event_id_type = DelegateDebugIdType::kNone;
    return e;
  }
};

// Counts what the runtime allocates (current bytes and the peak since creation).
class CountingAllocator : public MallocMemoryAllocator {
 public:
  size_t used = 0, peak = 0;
  void* allocate(size_t size, size_t alignment = kDefaultAlignment) override {
    void* p = MallocMemoryAllocator::allocate(size, alignment);
    if (p) { used += size; peak = std::max(peak, used); }
    return p;
  }
  void reset() override { used = 0; MallocMemoryAllocator::reset(); }
};

struct Input {
  std::vector<uint8_t> data;
  std::vector<TensorImpl::SizesType> sizes;
  std::vector<TensorImpl::DimOrderType> dim_order;
  std::vector<TensorImpl::StridesType> strides;
  std::unique_ptr<TensorImpl> impl;
  ScalarType dtype = ScalarType::Float;
  bool is_tensor = false;
  // A dynamic-shape input's current shape (et_set_input_shaped); `sizes` keeps the upper bound.
  std::vector<TensorImpl::SizesType> cur_sizes;
  std::vector<TensorImpl::StridesType> cur_strides;
};

}  // namespace

struct EtHandle {
  std::unique_ptr<MmapDataLoader> loader;
  std::unique_ptr<Program> program;
  CountingAllocator method_alloc, temp_alloc;
  std::vector<std::unique_ptr<uint8_t[]>> planned;
  std::vector<Span<uint8_t>> spans;
  std::vector<int64_t> planned_sizes;
  std::unique_ptr<HierarchicalAllocator> planned_alloc;
  std::unique_ptr<MemoryManager> memory;
  std::unique_ptr<Method> method;
  std::unique_ptr<Tracer> tracer;
  std::unique_ptr<executorch::etdump::ETDumpGen> etdump;
  std::vector<Input> inputs;
  std::string name;  // et_io_name's result, valid until the next call
  std::string error;
  std::string method_name = "forward";
  size_t file_size = 0;
  bool ran = false;
};

namespace {

int fail(std::string* dest, const std::string& what, Error err) {
  std::string msg = what;
  if (err != Error::Ok) msg += std::string(": ") + to_string(err);
  if (!g_log_errors.empty()) msg += " [" + g_log_errors + "]";
  *dest = msg;
  return err == Error::Ok ? -1 : (int)err;
}

Error alloc_planned(EtHandle* h, const MethodMeta& meta) {
  size_t n = meta.num_memory_planned_buffers();
  for (size_t i = 0; i < n; ++i) {
    Result<int64_t> size = meta.memory_planned_buffer_size(i);
    if (!size.ok()) return size.error();
    h->planned_sizes.push_back(size.get());
    // Zeroed: mutable buffers (e.g. a KV cache) live here and are read before all of them are written.
    h->planned.emplace_back(new uint8_t[std::max<int64_t>(size.get(), 1)]());
    h->spans.emplace_back(h->planned.back().get(), (size_t)size.get());
  }
  h->planned_alloc.reset(new HierarchicalAllocator({h->spans.data(), h->spans.size()}));
  h->memory.reset(new MemoryManager(&h->method_alloc, h->planned_alloc.get(), &h->temp_alloc));
  return Error::Ok;
}

Error prepare_inputs(EtHandle* h, const MethodMeta& meta) {
  h->inputs.resize(meta.num_inputs());
  for (size_t i = 0; i < meta.num_inputs(); ++i) {
    Input& in = h->inputs[i];
    Result<Tag> tag = meta.input_tag(i);
    if (!tag.ok()) return tag.error();
    if (tag.get() != Tag::Tensor) continue;
    Result<TensorInfo> info = meta.input_tensor_meta(i);
    if (!info.ok()) return info.error();
    auto sizes = info->sizes();
    auto order = info->dim_order();
    in.is_tensor = true;
    in.dtype = info->scalar_type();
    in.sizes.assign(sizes.begin(), sizes.end());
    in.dim_order.assign(order.begin(), order.end());
    in.strides.resize(sizes.size());
    if (!sizes.empty()) {
      Error e = executorch::runtime::dim_order_to_stride(
          in.sizes.data(), in.dim_order.data(), in.sizes.size(), in.strides.data());
      if (e != Error::Ok) return e;
    }
    in.data.assign(info->nbytes(), 0);
    in.impl.reset(new TensorImpl(in.dtype, (ssize_t)in.sizes.size(), in.sizes.data(),
                                 in.data.data(), in.dim_order.data(), in.strides.data()));
  }
  return Error::Ok;
}

int set_threads(int num_threads) {
  auto* pool = executorch::extension::threadpool::get_threadpool();
  if (num_threads <= 0 || pool == nullptr) return 0;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (pool->get_thread_count() == (size_t)num_threads) return 0;
  if (g_live_handles > 0) {
    g_last_error = "the thread count is process-wide and " + std::to_string(g_live_handles) +
                   " model(s) are loaded with " + std::to_string(pool->get_thread_count()) +
                   " threads; free them first or pass the same num_threads";
    return -1;
  }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  pool->_unsafe_reset_threadpool((uint32_t)num_threads);
#pragma GCC diagnostic pop
  return 0;
}

int load_into(EtHandle* h, const char* path, int profile) {
  std::string* err = &g_last_error;
  auto loader = MmapDataLoader::from(path, MmapDataLoader::MlockConfig::NoMlock);
  if (!loader.ok()) return fail(err, std::string("cannot open ") + path, loader.error());
  h->loader.reset(new MmapDataLoader(std::move(loader.get())));
  auto size = h->loader->size();
  h->file_size = size.ok() ? size.get() : 0;
  auto program = Program::load(h->loader.get(), Program::Verification::InternalConsistency);
  if (!program.ok()) return fail(err, std::string("not a valid .pte program: ") + path, program.error());
  h->program.reset(new Program(std::move(program.get())));
  auto meta = h->program->method_meta(h->method_name.c_str());
  if (!meta.ok()) return fail(err, "the program has no '" + h->method_name + "' method", meta.error());
  Error e = alloc_planned(h, meta.get());
  if (e == Error::Ok) e = prepare_inputs(h, meta.get());
  if (e != Error::Ok) return fail(err, "cannot read the method's metadata", e);
  EventTracer* tracer = nullptr;
  if (profile == 1) tracer = (h->tracer = std::make_unique<Tracer>()).get();
  if (profile == 2) tracer = (h->etdump = std::make_unique<executorch::etdump::ETDumpGen>()).get();
  auto method = h->program->load_method(h->method_name.c_str(), h->memory.get(), tracer);
  if (!method.ok()) return fail(err, "cannot load method '" + h->method_name + "'", method.error());
  h->method.reset(new Method(std::move(method.get())));
  return 0;
}

Result<executorch::aten::Tensor> output_tensor(EtHandle* h, int i) {
  if (i < 0 || (size_t)i >= h->method->outputs_size()) return Error::InvalidArgument;
  const EValue& v = h->method->get_output(i);
  if (!v.isTensor()) return Error::InvalidType;
  return v.toTensor();
}

void fill_shape(const executorch::aten::ArrayRef<executorch::aten::SizesType>& s, int* ndim,
                int64_t* shape, int cap) {
  *ndim = (int)s.size();
  for (int d = 0; d < (int)s.size() && d < cap; ++d) shape[d] = s[d];
}

}  // namespace

#pragma GCC visibility push(default)
extern "C" {

const char* et_version(void) { return EDGEKIT_ET_VERSION; }
const char* et_last_error(void) { return g_last_error.c_str(); }
const char* et_error(EtHandle* h) { return h ? h->error.c_str() : g_last_error.c_str(); }

int et_thread_count(void) {
  init_once();
  auto* pool = executorch::extension::threadpool::get_threadpool();
  return pool ? (int)pool->get_thread_count() : 0;
}

EtHandle* et_load_method(const char* path, const char* method, int num_threads, int profile) {
  init_once();
  g_log_errors.clear();
  g_last_error.clear();
  if (profile < 0 || profile > 2) { g_last_error = "profile must be 0, 1 or 2"; return nullptr; }
  if (set_threads(num_threads) != 0) return nullptr;
  auto h = std::make_unique<EtHandle>();
  h->method_name = method;
  if (load_into(h.get(), path, profile) != 0) return nullptr;
  std::lock_guard<std::mutex> lock(g_mutex);
  ++g_live_handles;
  return h.release();
}

EtHandle* et_load(const char* path, int num_threads, int profile) {
  return et_load_method(path, "forward", num_threads, profile);
}

void et_free(EtHandle* h) {
  if (!h) return;
  h->method.reset();  // before the program, allocators and tracer it points to
  std::lock_guard<std::mutex> lock(g_mutex);
  --g_live_handles;
  delete h;
}

int et_num_inputs(EtHandle* h) { return (int)h->method->inputs_size(); }
int et_num_outputs(EtHandle* h) { return (int)h->method->outputs_size(); }

// dtype: ExecuTorch ScalarType code (6 = float32), -1 for a non-tensor value.
int et_input_meta(EtHandle* h, int i, int* dtype, int* ndim, int64_t* shape, int cap) {
  if (i < 0 || (size_t)i >= h->inputs.size()) return fail(&h->error, "input index out of range", Error::InvalidArgument);
  const Input& in = h->inputs[i];
  *dtype = in.is_tensor ? (int)in.dtype : -1;
  *ndim = (int)in.sizes.size();
  for (int d = 0; d < *ndim && d < cap; ++d) shape[d] = in.sizes[d];
  return 0;
}

// Before the first run: the planned shape; after a run: the actual output shape.
int et_output_meta(EtHandle* h, int i, int* dtype, int* ndim, int64_t* shape, int cap) {
  g_log_errors.clear();
  if (h->ran) {
    auto t = output_tensor(h, i);
    if (!t.ok()) return fail(&h->error, "output " + std::to_string(i) + " is not a tensor", t.error());
    *dtype = (int)t->scalar_type();
    fill_shape(t->sizes(), ndim, shape, cap);
    return 0;
  }
  auto meta = h->program->method_meta(h->method_name.c_str());
  auto tag = meta->output_tag(i);
  if (!tag.ok()) return fail(&h->error, "output index out of range", tag.error());
  *dtype = -1; *ndim = 0;
  if (tag.get() != Tag::Tensor) return 0;
  auto info = meta->output_tensor_meta(i);
  if (!info.ok()) return fail(&h->error, "cannot read output metadata", info.error());
  *dtype = (int)info->scalar_type();
  *ndim = (int)info->sizes().size();
  for (int d = 0; d < *ndim && d < cap; ++d) shape[d] = info->sizes()[d];
  return 0;
}

// The tensor's name from the program (often empty), or "" when unknown.
const char* et_io_name(EtHandle* h, int is_output, int i) {
  auto meta = h->program->method_meta(h->method_name.c_str());
  auto info = is_output ? meta->output_tensor_meta(i) : meta->input_tensor_meta(i);
  h->name = info.ok() ? std::string(info->name()) : std::string();
  return h->name.c_str();
}

int et_set_input(EtHandle* h, int i, const void* data, size_t nbytes) {
  g_log_errors.clear();
  if (i < 0 || (size_t)i >= h->inputs.size()) return fail(&h->error, "input index out of range", Error::InvalidArgument);
  Input& in = h->inputs[i];
  if (!in.is_tensor) return fail(&h->error, "input " + std::to_string(i) + " is not a tensor", Error::NotSupported);
  if (nbytes != in.data.size())
    return fail(&h->error, "input " + std::to_string(i) + " needs " + std::to_string(in.data.size()) +
                " bytes, got " + std::to_string(nbytes), Error::InvalidArgument);
  memcpy(in.data.data(), data, nbytes);
  if (!in.cur_sizes.empty()) {  // back to the full shape after et_set_input_shaped
    in.cur_sizes.clear();
    in.impl.reset(new TensorImpl(in.dtype, (ssize_t)in.sizes.size(), in.sizes.data(), in.data.data(),
                                 in.dim_order.data(), in.strides.data()));
  }
  Error e = h->method->set_input(EValue(executorch::aten::Tensor(in.impl.get())), i);
  return e == Error::Ok ? 0 : fail(&h->error, "set_input(" + std::to_string(i) + ") failed", e);
}

// Like et_set_input, for an input exported with a dynamic shape: `shape` (ndim dims) may be
// smaller than the planned upper bound in any dimension; `data` holds nbytes of that shape.
int et_set_input_shaped(EtHandle* h, int i, const void* data, size_t nbytes, int ndim, const int64_t* shape) {
  g_log_errors.clear();
  if (i < 0 || (size_t)i >= h->inputs.size()) return fail(&h->error, "input index out of range", Error::InvalidArgument);
  Input& in = h->inputs[i];
  if (!in.is_tensor) return fail(&h->error, "input " + std::to_string(i) + " is not a tensor", Error::NotSupported);
  if (ndim != (int)in.sizes.size())
    return fail(&h->error, "input " + std::to_string(i) + " has " + std::to_string(in.sizes.size()) + " dims",
                Error::InvalidArgument);
  size_t max_elems = 1, elems = 1;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] < 0 || shape[d] > in.sizes[d])
      return fail(&h->error, "input " + std::to_string(i) + " dim " + std::to_string(d) + " is " +
                  std::to_string(shape[d]) + ", beyond its bound " + std::to_string(in.sizes[d]), Error::InvalidArgument);
    max_elems *= (size_t)in.sizes[d];
    elems *= (size_t)shape[d];
  }
  size_t item = max_elems ? in.data.size() / max_elems : 0;
  if (nbytes != elems * item)
    return fail(&h->error, "input " + std::to_string(i) + " needs " + std::to_string(elems * item) +
                " bytes, got " + std::to_string(nbytes), Error::InvalidArgument);
  memcpy(in.data.data(), data, nbytes);
  in.cur_sizes.assign(shape, shape + ndim);
  in.cur_strides.resize(ndim);
  if (ndim > 0) {
    Error e = executorch::runtime::dim_order_to_stride(
        in.cur_sizes.data(), in.dim_order.data(), (size_t)ndim, in.cur_strides.data());
    if (e != Error::Ok) return fail(&h->error, "strides of input " + std::to_string(i), e);
  }
  in.impl.reset(new TensorImpl(in.dtype, (ssize_t)ndim, in.cur_sizes.data(), in.data.data(),
                               in.dim_order.data(), in.cur_strides.data()));
  Error e = h->method->set_input(EValue(executorch::aten::Tensor(in.impl.get())), i);
  return e == Error::Ok ? 0 : fail(&h->error, "set_input(" + std::to_string(i) + ") failed", e);
}

int et_run(EtHandle* h) {
  g_log_errors.clear();
  if (h->tracer) h->tracer->events.clear();
  Error e = h->method->execute();
  if (e != Error::Ok) return fail(&h->error, "execute failed", e);
  h->ran = true;
  return 0;
}

int et_get_output(EtHandle* h, int i, void* out, size_t nbytes) {
  g_log_errors.clear();
  auto t = output_tensor(h, i);
  if (!t.ok()) return fail(&h->error, "output " + std::to_string(i) + " is not a tensor", t.error());
  if (nbytes != t->nbytes())
    return fail(&h->error, "output " + std::to_string(i) + " has " + std::to_string(t->nbytes()) +
                " bytes, buffer has " + std::to_string(nbytes), Error::InvalidArgument);
  memcpy(out, t->const_data_ptr(), nbytes);
  return 0;
}

// Writes up to `cap` planned buffer sizes; info[0..4) = file size, bytes the
// method allocator holds, peak temp-allocator bytes, bytes of owned input copies.
// Returns the number of memory-planned buffers.
int et_memory_info(EtHandle* h, int64_t* sizes, int cap, int64_t* info) {
  for (int i = 0; i < (int)h->planned_sizes.size() && i < cap; ++i) sizes[i] = h->planned_sizes[i];
  size_t owned = 0;
  for (const Input& in : h->inputs) owned += in.data.size();
  info[0] = (int64_t)h->file_size;
  info[1] = (int64_t)h->method_alloc.used;
  info[2] = (int64_t)h->temp_alloc.peak;
  info[3] = (int64_t)owned;
  return (int)h->planned_sizes.size();
}

int et_num_backends(EtHandle* h) { return (int)h->program->method_meta(h->method_name.c_str())->num_backends(); }

const char* et_backend_name(EtHandle* h, int i) {
  auto name = h->program->method_meta(h->method_name.c_str())->get_backend_name(i);
  return name.ok() ? name.get() : "";
}

int et_profile_count(EtHandle* h) { return h->tracer ? (int)h->tracer->events.size() : 0; }

// kind 0: runtime event (`handle` = instruction index in `chain`); kind 1: an op
// inside a delegate (`handle` = delegate debug id). Times in microseconds.
int et_profile_event(EtHandle* h, int i, const char** name, int* kind, int* chain,
                     int64_t* handle, double* start_us, double* duration_us) {
  if (!h->tracer || i < 0 || (size_t)i >= h->tracer->events.size())
    return fail(&h->error, "no such profiling event", Error::InvalidArgument);
  const Event& e = h->tracer->events[i];
  *name = e.name.c_str();
  *kind = e.kind;
  *chain = e.chain;
  *handle = e.handle;
  *start_us = ticks_to_us(e.start);
  *duration_us = ticks_to_us(e.end) - ticks_to_us(e.start);
  return 0;
}

int et_write_etdump(EtHandle* h, const char* path) {
  if (!h->etdump) return fail(&h->error, "load the model with profile=2 to write an ETDump", Error::InvalidState);
  executorch::etdump::ETDumpResult res = h->etdump->get_etdump_data();
  if (res.buf == nullptr || res.size == 0) return fail(&h->error, "the ETDump is empty (run the model first)", Error::InvalidState);
  FILE* f = fopen(path, "wb");
  bool ok = f && fwrite(res.buf, 1, res.size, f) == res.size;
  if (f) ok = (fclose(f) == 0) && ok;
  free(res.buf);
  return ok ? 0 : fail(&h->error, std::string("cannot write ") + path, Error::AccessFailed);
}

}  // extern "C"
#pragma GCC visibility pop
