// warp_ops.cpp — the data exchanged at warp barriers: shuffles, votes, reductions, matches, mma.sync m16n8k16,
// ldmatrix and WMMA, with the lane layouts the PTX ISA documents (see kernels/common/qn_cuda.h).
#include "racecheck.h"
#include "runtime.h"

namespace qn::emu
{
[[noreturn]] void fail_in_kernel(const std::string& message);

namespace
{
template <typename T>
T& lane_data(void* const* data, unsigned int lane) { return *static_cast<T*>(data[lane]); }

template <typename F>
void for_lanes(unsigned int mask, F f)
{
    for (unsigned int lane = 0; lane < 32; ++lane)
        if ((mask >> lane) & 1u) f(lane);
}

// ------------------------------------------------------------------------------------------------- shuffles
struct ShuffleData
{
    unsigned long long value;
    unsigned int b, c;
    ShuffleMode mode;
    unsigned long long result;
};

// shfl.sync as the PTX ISA defines it: segmask = c[12:8], clamp = c[4:0]; out-of-segment sources read the
// lane's own value. A source lane outside the mask is undefined on a GPU; here it reads the lane's own value.
void shuffle_fn(void* const* data, unsigned int mask)
{
    for_lanes(mask, [&](unsigned int lane) {
        auto& d = lane_data<ShuffleData>(data, lane);
        const int l = static_cast<int>(lane);
        const int bval = static_cast<int>(d.b & 31u);
        const int cval = static_cast<int>(d.c & 31u);
        const int segmask = static_cast<int>((d.c >> 8) & 31u);
        const int maxLane = (l & segmask) | (cval & ~segmask);
        const int minLane = l & segmask;
        int j = l;
        bool inRange = false;
        switch (d.mode)
        {
        case ShuffleMode::Up: j = l - bval; inRange = j >= maxLane; break;
        case ShuffleMode::Down: j = l + bval; inRange = j <= maxLane; break;
        case ShuffleMode::Bfly: j = l ^ bval; inRange = j <= maxLane; break;
        case ShuffleMode::Idx: j = minLane | (bval & ~segmask); inRange = j <= maxLane; break;
        }
        if (!inRange) j = l;
        d.result = ((mask >> j) & 1u) ? lane_data<ShuffleData>(data, static_cast<unsigned int>(j)).value : d.value;
    });
}

// ------------------------------------------------------------------------------------------------- votes etc.
struct VoteData
{
    int predicate;
    unsigned int result;
};
void vote_fn(void* const* data, unsigned int mask)
{
    unsigned int ballot = 0;
    for_lanes(mask, [&](unsigned int lane) {
        if (lane_data<VoteData>(data, lane).predicate != 0) ballot |= 1u << lane;
    });
    for_lanes(mask, [&](unsigned int lane) { lane_data<VoteData>(data, lane).result = ballot; });
}

struct ReduceData
{
    unsigned int value;
    ReduceOp op;
    unsigned int result;
};
void reduce_fn(void* const* data, unsigned int mask)
{
    const int first = __builtin_ctz(mask);
    const ReduceOp op = lane_data<ReduceData>(data, static_cast<unsigned int>(first)).op;
    unsigned int acc = lane_data<ReduceData>(data, static_cast<unsigned int>(first)).value;
    for_lanes(mask, [&](unsigned int lane) {
        const auto& d = lane_data<ReduceData>(data, lane);
        if (d.op != op) fail_in_kernel("__reduce_*_sync: lanes of one mask use different reductions");
        if (static_cast<int>(lane) == first) return;
        const unsigned int v = d.value;
        switch (op)
        {
        case ReduceOp::AddU: acc += v; break;
        case ReduceOp::MinU: acc = v < acc ? v : acc; break;
        case ReduceOp::MaxU: acc = v > acc ? v : acc; break;
        case ReduceOp::MinS: acc = static_cast<int>(v) < static_cast<int>(acc) ? v : acc; break;
        case ReduceOp::MaxS: acc = static_cast<int>(v) > static_cast<int>(acc) ? v : acc; break;
        case ReduceOp::And: acc &= v; break;
        case ReduceOp::Or: acc |= v; break;
        case ReduceOp::Xor: acc ^= v; break;
        }
    });
    for_lanes(mask, [&](unsigned int lane) { lane_data<ReduceData>(data, lane).result = acc; });
}

struct MatchData
{
    unsigned long long value;
    unsigned int any;
    unsigned int all;
};
void match_fn(void* const* data, unsigned int mask)
{
    bool allEqual = true;
    const unsigned long long first = lane_data<MatchData>(data, static_cast<unsigned int>(__builtin_ctz(mask))).value;
    for_lanes(mask, [&](unsigned int lane) {
        auto& d = lane_data<MatchData>(data, lane);
        if (d.value != first) allEqual = false;
        unsigned int same = 0;
        for_lanes(mask, [&](unsigned int other) {
            if (lane_data<MatchData>(data, other).value == d.value) same |= 1u << other;
        });
        d.any = same;
    });
    for_lanes(mask, [&](unsigned int lane) { lane_data<MatchData>(data, lane).all = allEqual ? mask : 0u; });
}

// ------------------------------------------------------------------------------------------------- mma.sync
float element_to_float(unsigned short bits, MmaType type)
{
    return type == MmaType::F16 ? half_to_float(bits) : bf16_to_float(bits);
}
unsigned short half_of(unsigned int reg, int hi) { return static_cast<unsigned short>(hi ? reg >> 16 : reg & 0xffffu); }

struct MmaData
{
    const unsigned int* a;
    const unsigned int* b;
    const float* c;
    float* d;
    MmaType type;
};

// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}: fragments per PTX ISA "Matrix Fragments for mma.m16n8k16
// with floating point type"; g = lane >> 2, t = lane % 4.
void mma_fn(void* const* data, unsigned int mask)
{
    double A[16][16], B[16][8], C[16][8];
    const MmaType type = lane_data<MmaData>(data, 0).type;
    for_lanes(mask, [&](unsigned int lane) {
        const auto& m = lane_data<MmaData>(data, lane);
        if (m.type != type) fail_in_kernel("mma.sync: lanes of one warp use different element types");
        const int g = static_cast<int>(lane >> 2), t = static_cast<int>(lane & 3u);
        for (int i = 0; i < 8; ++i)
        {
            const int row = g + 8 * ((i / 2) % 2);
            const int col = 2 * t + (i % 2) + 8 * (i / 4);
            A[row][col] = element_to_float(half_of(m.a[i / 2], i % 2), type);
        }
        for (int i = 0; i < 4; ++i)
        {
            const int k = 2 * t + (i % 2) + 8 * (i / 2);
            B[k][g] = element_to_float(half_of(m.b[i / 2], i % 2), type);
        }
        for (int i = 0; i < 4; ++i) C[g + 8 * (i / 2)][2 * t + (i % 2)] = m.c[i];
    });
    for_lanes(mask, [&](unsigned int lane) {
        auto& m = lane_data<MmaData>(data, lane);
        const int g = static_cast<int>(lane >> 2), t = static_cast<int>(lane & 3u);
        for (int i = 0; i < 4; ++i)
        {
            const int row = g + 8 * (i / 2), col = 2 * t + (i % 2);
            double acc = C[row][col];
            for (int k = 0; k < 16; ++k) acc += A[row][k] * B[k][col];
            m.d[i] = static_cast<float>(acc);
        }
    });
}

// ------------------------------------------------------------------------------------------------- ldmatrix
struct LdmatrixData
{
    const void* address;
    unsigned int* r;
    int count;
    bool trans;
};

// ldmatrix.sync.aligned.m8n8.x{1,2,4}{.trans}.shared.b16: lanes 8i..8i+7 hold the row addresses of matrix i;
// lane l receives row l/4, elements 2(l%4) and 2(l%4)+1 of each matrix (with .trans, column l/4).
void ldmatrix_fn(void* const* data, unsigned int mask)
{
    const auto& first = lane_data<LdmatrixData>(data, 0);
    unsigned short M[4][8][8];
    for_lanes(mask, [&](unsigned int lane) {
        const auto& d = lane_data<LdmatrixData>(data, lane);
        if (d.count != first.count || d.trans != first.trans)
            fail_in_kernel("ldmatrix: lanes of one warp use different .num or .trans qualifiers");
    });
    for (int m = 0; m < first.count; ++m)
    {
        for (int row = 0; row < 8; ++row)
        {
            const unsigned int lane = static_cast<unsigned int>(8 * m + row);
            const void* p = lane_data<LdmatrixData>(data, lane).address;
            if (reinterpret_cast<std::uintptr_t>(p) % 16 != 0)
                fail_in_kernel(format("ldmatrix: lane %u's row address %p is not 16-byte aligned", lane, p));
            std::memcpy(M[m][row], p, 16);
        }
    }
    for_lanes(mask, [&](unsigned int lane) {
        auto& d = lane_data<LdmatrixData>(data, lane);
        const int q = static_cast<int>(lane >> 2), e = 2 * static_cast<int>(lane & 3u);
        for (int m = 0; m < first.count; ++m)
        {
            const unsigned short lo = first.trans ? M[m][e][q] : M[m][q][e];
            const unsigned short hi = first.trans ? M[m][e + 1][q] : M[m][q][e + 1];
            d.r[m] = static_cast<unsigned int>(lo) | (static_cast<unsigned int>(hi) << 16);
        }
    });
}

// ------------------------------------------------------------------------------------------------- WMMA
struct WmmaData
{
    const unsigned short* a;
    const unsigned short* b;
    const float* c;
    float* d;
    MmaType type;
};

void wmma_fn(void* const* data, unsigned int mask)
{
    double A[16][16], B[16][16], C[16][16];
    const MmaType type = lane_data<WmmaData>(data, 0).type;
    for_lanes(mask, [&](unsigned int lane) {
        const auto& w = lane_data<WmmaData>(data, lane);
        if (w.type != type) fail_in_kernel("wmma::mma_sync: lanes of one warp use different element types");
        for (int i = 0; i < 8; ++i)
        {
            int r, c;
            nvcuda::wmma::detail::a_coord(lane, i, r, c);
            A[r][c] = element_to_float(w.a[i], type);
            C[r][c] = w.c[i];
            nvcuda::wmma::detail::b_coord(lane, i, r, c);
            B[r][c] = element_to_float(w.b[i], type);
        }
    });
    for_lanes(mask, [&](unsigned int lane) {
        auto& w = lane_data<WmmaData>(data, lane);
        for (int i = 0; i < 8; ++i)
        {
            int r, c;
            nvcuda::wmma::detail::a_coord(lane, i, r, c);
            double acc = C[r][c];
            for (int k = 0; k < 16; ++k) acc += A[r][k] * B[k][c];
            w.d[i] = static_cast<float>(acc);
        }
    });
}
} // namespace

unsigned long long shuffle(unsigned int mask, unsigned long long value, ShuffleMode mode, unsigned int b,
                           unsigned int c, const char* file, int line)
{
    const unsigned int seg = c >> 8;
    if (seg > 31u || ((32u - seg) & (31u - seg)) != 0u)
        kernel_error("__shfl_*_sync: width must be a power of two from 1 to 32", file, line);
    ShuffleData d{value, b, c, mode, 0};
    warp_collective(WarpOp::Shuffle, mask, &d, &shuffle_fn, file, line);
    return d.result;
}

unsigned int vote_ballot(unsigned int mask, int predicate, const char* file, int line)
{
    VoteData d{predicate, 0};
    warp_collective(WarpOp::Vote, mask, &d, &vote_fn, file, line);
    return d.result;
}

unsigned int reduce(unsigned int mask, unsigned int value, ReduceOp op, const char* file, int line)
{
    ReduceData d{value, op, 0};
    warp_collective(WarpOp::Reduce, mask, &d, &reduce_fn, file, line);
    return d.result;
}

unsigned int match_any(unsigned int mask, unsigned long long value, const char* file, int line)
{
    MatchData d{value, 0, 0};
    warp_collective(WarpOp::Match, mask, &d, &match_fn, file, line);
    return d.any;
}

unsigned int match_all(unsigned int mask, unsigned long long value, int* predicate, const char* file, int line)
{
    MatchData d{value, 0, 0};
    warp_collective(WarpOp::Match, mask, &d, &match_fn, file, line);
    if (predicate != nullptr) *predicate = d.all != 0;
    return d.all;
}

void mma_m16n8k16(float* d, const unsigned int* a, const unsigned int* b, const float* c, MmaType type,
                  const char* file, int line)
{
    float out[4];
    MmaData m{a, b, c, out, type};
    warp_collective(WarpOp::Mma, 0xffffffffu, &m, &mma_fn, file, line);
    std::memcpy(d, out, sizeof out); // d may alias c: written only after the whole warp's C was read
}

void ldmatrix(unsigned int* r, int count, bool trans, const void* rowAddress, const char* file, int line)
{
    unsigned int out[4] = {};
    LdmatrixData d{rowAddress, out, count, trans};
    if (lane_id() < 8u * static_cast<unsigned int>(count)) race_record(rowAddress, 16, false); // this lane's row
    warp_collective(WarpOp::Ldmatrix, 0xffffffffu, &d, &ldmatrix_fn, file, line);
    std::memcpy(r, out, sizeof(unsigned int) * static_cast<std::size_t>(count));
}

void wmma_mma(float* d, const unsigned short* a, const unsigned short* b, const float* c, MmaType type,
              const char* file, int line)
{
    float out[8];
    WmmaData w{a, b, c, out, type};
    warp_collective(WarpOp::WmmaMma, 0xffffffffu, &w, &wmma_fn, file, line);
    std::memcpy(d, out, sizeof out);
}

void wmma_sync(WarpOp op, const char* file, int line) { warp_collective(op, 0xffffffffu, nullptr, nullptr, file, line); }
} // namespace qn::emu
