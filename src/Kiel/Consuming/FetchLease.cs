namespace Kiel.Consuming;

/// <summary>Shares one Fetch response's receive buffer among the chunks cut from it; the last release returns it to the pool.</summary>
internal sealed class FetchLease(FetchResponseView response)
{
    private int _references = 1;

    public void AddReference() => Interlocked.Increment(ref _references);

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0) response.Dispose();
    }
}
