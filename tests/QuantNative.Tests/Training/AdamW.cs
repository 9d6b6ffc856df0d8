using System.Numerics;
using QuantNative.Cpu;

namespace QuantNative.Tests.Training;

/// <summary>
/// The straightforward optimizer the AdamW step (<see cref="AdamWUpdate"/>, and through it every backend's) is checked
/// against: torch.optim.AdamW (amsgrad off, maximize off), step for step, per parameter with gradient g:
///   step += 1;  p ← p·(1 − lr·wd)                      (decoupled weight decay, before the Adam update)
///   m ← lerp(m, g, 1 − β1) = β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
///   p ← p − lr/(1 − β1^step) · m / (sqrt(v)/sqrt(1 − β2^step) + eps)
/// The step counter and the moments m, v (zero-initialised, in T like PyTorch's state, which has the parameter's
/// dtype) live per parameter, created on its first step with a gradient; parameters without a gradient are skipped
/// and their state does not advance. Scalars (bias corrections, step size) are computed in double, then the
/// per-element arithmetic runs in T, as PyTorch's CPU kernels do for a float32 tensor. Elements are independent, so
/// the result is the same whatever the thread count.
/// </summary>
public sealed class AdamW<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Dictionary<GradParameter<T>, State> _state = new(ReferenceEqualityComparer.Instance);

    public IReadOnlyList<AdamWGroup<T>> Groups { get; }

    public AdamW(IEnumerable<AdamWGroup<T>> groups)
    {
        Groups = groups.ToArray();
        var seen = new HashSet<GradParameter<T>>(ReferenceEqualityComparer.Instance);
        foreach (var g in Groups)
        {
            g.Validate();
            foreach (var p in g.Parameters)
                if (!seen.Add(p))
                    throw new ArgumentException($"parameter '{p.Name}' appears in more than one group", nameof(groups));
        }
    }

    /// <summary>The optimizer state of <paramref name="p"/> (null before its first step): step count, m, v.</summary>
    public (long Step, T[] ExpAvg, T[] ExpAvgSq)? StateOf(GradParameter<T> p) =>
        _state.TryGetValue(p, out var s) ? (s.Step, s.ExpAvg, s.ExpAvgSq) : null;

    /// <summary>One update of every parameter that has a gradient.</summary>
    public void Step()
    {
        foreach (var group in Groups)
            foreach (var p in group.Parameters)
            {
                if (p.Grad is not { } grad) continue;
                if (grad.Length != p.Value.Length)
                    throw new ArgumentException($"parameter '{p.Name}' has {p.Value.Length} values but a gradient of {grad.Length}");
                if (!_state.TryGetValue(p, out var s))
                    _state[p] = s = new State(new T[p.Value.Length], new T[p.Value.Length]);
                s.Step++;
                Update(p.Value, grad, s, group);
            }
    }

    private static void Update(T[] value, T[] grad, State s, AdamWGroup<T> g) =>
        AdamWUpdate.Apply(value, grad, s.ExpAvg, s.ExpAvgSq, value.Length,
            AdamWStepScalars.Create(g.LearningRate, g.WeightDecay, g.Beta1, g.Beta2, g.Epsilon, s.Step));

    private sealed class State(T[] expAvg, T[] expAvgSq)
    {
        public long Step;
        public T[] ExpAvg { get; } = expAvg;
        public T[] ExpAvgSq { get; } = expAvgSq;
    }
}
