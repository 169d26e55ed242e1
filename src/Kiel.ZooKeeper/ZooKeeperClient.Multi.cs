using Kiel.ZooKeeper.Protocol;

namespace Kiel.ZooKeeper;

public sealed partial class ZooKeeperClient
{
    /// <summary>
    /// Applies the operations atomically: all of them or none. Returns one result per operation.
    /// </summary>
    /// <exception cref="MultiOperationException">An operation failed; nothing was applied. It names the failing index and code.</exception>
    public async Task<IReadOnlyList<OpResult>> MultiAsync(IEnumerable<ZooKeeperOp> operations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operations);
        var ops = operations.ToList();
        if (ops.Count == 0) return [];
        foreach (var op in ops)
        {
            switch (op)
            {
                case CreateOp c:
                    ZooKeeperPath.Validate(c.Path, c.Mode.IsSequential());
                    CheckData(c.Path, c.Data);
                    if (c.Mode is CreateMode.Container || c.Mode.HasTtl())
                        throw new ArgumentException($"Create mode {c.Mode} is not supported inside a multi.", nameof(operations));
                    if (c.Acl.Count == 0) throw new ArgumentException($"The ACL for {c.Path} must not be empty.", nameof(operations));
                    break;
                case SetDataOp s:
                    ZooKeeperPath.Validate(s.Path);
                    CheckData(s.Path, s.Data);
                    break;
                case null:
                    throw new ArgumentException("A multi operation is null.", nameof(operations));
                default:
                    ZooKeeperPath.Validate(op.Path);
                    break;
            }
        }
        var results = await SubmitAsync(OpCode.Multi, ops[0].Path, w => WriteMulti(w, ops, ToServerPath), (ref JuteReader r) => ReadMulti(ref r, FromServerPath), cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < results.Count; i++)
        {
            if (results[i] is not OpResult.Error) continue;
            // Ops before the failure report Ok and ops after it RuntimeInconsistency; the real cause is the first other code.
            var failed = -1;
            for (var j = 0; j < results.Count; j++)
                if (results[j] is OpResult.Error { Code: not (ZooKeeperErrorCode.Ok or ZooKeeperErrorCode.RuntimeInconsistency) }) { failed = j; break; }
            if (failed < 0) failed = i;
            var code = ((OpResult.Error)results[failed]).Code;
            throw new MultiOperationException(code, failed, failed < ops.Count ? ops[failed].Path : null, results);
        }
        if (results.Count != ops.Count)
            throw new ZooKeeperProtocolException("MultiResponse", "results", $"has {results.Count} results for {ops.Count} operations");
        return results;
    }

    internal static void WriteMulti(JuteWriter w, IReadOnlyList<ZooKeeperOp> ops, Func<string, string> toServerPath)
    {
        foreach (var op in ops)
        {
            switch (op)
            {
                case CreateOp c:
                    WriteMultiHeader(w, OpCode.Create);
                    w.WriteString(toServerPath(c.Path));
                    w.WriteBuffer(c.Data.Span);
                    w.WriteAcls(c.Acl);
                    w.WriteInt((int)c.Mode);
                    break;
                case DeleteOp d:
                    WriteMultiHeader(w, OpCode.Delete);
                    w.WriteString(toServerPath(d.Path));
                    w.WriteInt(d.Version);
                    break;
                case SetDataOp s:
                    WriteMultiHeader(w, OpCode.SetData);
                    w.WriteString(toServerPath(s.Path));
                    w.WriteBuffer(s.Data.Span);
                    w.WriteInt(s.Version);
                    break;
                case CheckOp k:
                    WriteMultiHeader(w, OpCode.Check);
                    w.WriteString(toServerPath(k.Path));
                    w.WriteInt(k.Version);
                    break;
                default:
                    throw new ArgumentException($"Unknown multi operation {op.GetType().Name}.");
            }
        }
        // The closing header: type -1, done, err -1.
        w.WriteInt(-1);
        w.WriteBool(true);
        w.WriteInt(-1);
    }

    private static void WriteMultiHeader(JuteWriter w, OpCode op)
    {
        w.WriteInt((int)op);
        w.WriteBool(false);
        w.WriteInt(-1);
    }

    internal static List<OpResult> ReadMulti(ref JuteReader r, Func<string, string> fromServerPath)
    {
        var results = new List<OpResult>();
        while (true)
        {
            var type = r.ReadInt("multiHeader.type");
            var done = r.ReadBool("multiHeader.done");
            r.ReadInt("multiHeader.err");
            if (done) break;
            // Each result takes at least 4 bytes, so a hostile stream cannot spin: ReadInt fails at the end.
            switch ((OpCode)type)
            {
                case OpCode.Create:
                    results.Add(new OpResult.Create(fromServerPath(r.ReadRequiredString("path"))));
                    break;
                case OpCode.Create2:
                    var path = fromServerPath(r.ReadRequiredString("path"));
                    r.ReadStat();
                    results.Add(new OpResult.Create(path));
                    break;
                case OpCode.Delete:
                    results.Add(new OpResult.Delete());
                    break;
                case OpCode.SetData:
                    results.Add(new OpResult.SetData(r.ReadStat()));
                    break;
                case OpCode.Check:
                    results.Add(new OpResult.Check());
                    break;
                case OpCode.Error:
                    results.Add(new OpResult.Error((ZooKeeperErrorCode)r.ReadInt("error.err")));
                    break;
                default:
                    throw new ZooKeeperProtocolException("MultiResponse", "multiHeader.type", $"is {type}");
            }
        }
        return results;
    }
}
