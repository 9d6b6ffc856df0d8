// numeric.cpp — exact a*b + c rounded once to a narrow binary format (binary16 / bfloat16 fma, double -> half).
#include "runtime.h"

#include <cmath>

namespace qn::emu
{
namespace
{
using u128 = unsigned __int128;

int bit_length(u128 v)
{
    const auto hi = static_cast<unsigned long long>(v >> 64);
    if (hi != 0) return 128 - __builtin_clzll(hi);
    const auto lo = static_cast<unsigned long long>(v);
    return lo == 0 ? 0 : 64 - __builtin_clzll(lo);
}

// A finite nonzero double as (-1)^neg * m * 2^e with integer m < 2^53.
void decompose(double x, bool& neg, unsigned long long& m, int& e)
{
    const auto bits = __builtin_bit_cast(unsigned long long, x);
    neg = (bits >> 63) != 0;
    const int biased = static_cast<int>((bits >> 52) & 0x7ffu);
    m = bits & ((1ull << 52) - 1);
    if (biased == 0) e = -1074;
    else
    {
        m |= 1ull << 52;
        e = biased - 1075;
    }
}

// Rounds (-1)^neg * mag * 2^e (mag != 0) to nearest even with `precision` significand bits, minimum normal
// exponent emin (subnormals below it) and maximum exponent emax (overflow to infinity).
double round_to_format(bool neg, u128 mag, int e, int precision, int emin, int emax)
{
    const int top = e + bit_length(mag) - 1;                 // exponent of the leading bit
    const int quantum = std::max(top, emin) - (precision - 1); // exponent of the last kept bit
    const int shift = quantum - e;
    u128 r;
    if (shift <= 0) r = mag << -shift;                        // exact (never more than precision bits)
    else if (shift >= 128) r = 0;                             // below half of the smallest subnormal
    else
    {
        r = mag >> shift;
        const u128 rest = mag & ((static_cast<u128>(1) << shift) - 1);
        const u128 halfway = static_cast<u128>(1) << (shift - 1);
        if (rest > halfway || (rest == halfway && (r & 1))) ++r;
    }
    if (r == 0) return neg ? -0.0 : 0.0;
    const int resultTop = quantum + bit_length(r) - 1;
    if (resultTop > emax) return neg ? -HUGE_VAL : HUGE_VAL;
    const double v = std::ldexp(static_cast<double>(static_cast<unsigned long long>(r)), quantum);
    return neg ? -v : v;
}
} // namespace

double fma_round(double a, double b, double c, int precision, int emin, int emax)
{
    const double ieee = std::fma(a, b, c);
    if (!std::isfinite(ieee) || !std::isfinite(a) || !std::isfinite(b) || !std::isfinite(c)) return ieee;
    const bool productZero = a == 0.0 || b == 0.0;
    if (productZero && c == 0.0) return ieee; // signed zero rules
    bool na = false, nb = false, nc = false;
    unsigned long long ma = 0, mb = 0, mc = 0;
    int ea = 0, eb = 0, ec = 0;
    if (productZero)
    {
        decompose(c, nc, mc, ec);
        return round_to_format(nc, mc, ec, precision, emin, emax);
    }
    decompose(a, na, ma, ea);
    decompose(b, nb, mb, eb);
    const bool np = na != nb;
    const u128 mp = static_cast<u128>(ma) * mb;
    const int ep = ea + eb;
    if (c == 0.0) return round_to_format(np, mp, ep, precision, emin, emax);
    decompose(c, nc, mc, ec);

    // Place the larger term T with its leading bit at bit 125 of a common exponent E; shift the smaller S to E,
    // folding bits shifted out into a sticky bit (S is then below 2^-20 T, far below the rounding position).
    const int topP = ep + bit_length(mp), topC = ec + bit_length(mc);
    bool nT = np, nS = nc;
    u128 mT = mp, mS = mc;
    int eT = ep, eS = ec;
    if (topC > topP)
    {
        std::swap(nT, nS);
        std::swap(mT, mS);
        std::swap(eT, eS);
    }
    const int shiftT = 125 - (bit_length(mT) - 1);
    mT <<= shiftT;
    const int E = eT - shiftT;
    if (eS >= E) mS <<= (eS - E);
    else
    {
        const int k = E - eS;
        if (k >= 128) mS = 1;
        else
        {
            const bool sticky = (mS & ((static_cast<u128>(1) << k) - 1)) != 0;
            mS = (mS >> k) | (sticky ? 1 : 0);
        }
    }
    if (nT == nS) return round_to_format(nT, mT + mS, E, precision, emin, emax);
    if (mT == mS) return 0.0;
    return mT > mS ? round_to_format(nT, mT - mS, E, precision, emin, emax)
                   : round_to_format(nS, mS - mT, E, precision, emin, emax);
}
} // namespace qn::emu
