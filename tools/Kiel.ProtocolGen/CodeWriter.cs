using System.Text;

namespace Kiel.ProtocolGen;

/// <summary>Indented text with '\n' line endings, so output is identical on every OS.</summary>
public sealed class CodeWriter
{
    private readonly StringBuilder _sb = new();
    private int _indent;

    public CodeWriter Line(string text = "")
    {
        if (text.Length > 0) _sb.Append(' ', _indent * 4).Append(text);
        _sb.Append('\n');
        return this;
    }

    public void Open(string header)
    {
        if (header.Length > 0) Line(header);
        Line("{");
        _indent++;
    }

    public void Close(string suffix = "")
    {
        _indent--;
        Line("}" + suffix);
    }

    public void Indent() => _indent++;
    public void Outdent() => _indent--;

    public void Doc(string? text, string fallback)
    {
        var t = string.IsNullOrWhiteSpace(text) ? fallback : text.Trim();
        Line("/// <summary>" + Xml(t) + "</summary>");
    }

    public static string Xml(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

    public override string ToString() => _sb.ToString();
}
