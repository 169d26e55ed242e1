namespace Kiel;

/// <summary>The root of every exception that Kiel throws on purpose.</summary>
public class KielException : Exception
{
    /// <summary>Creates an exception with a message.</summary>
    public KielException(string message) : base(message) { }

    /// <summary>Creates an exception with a message and the exception that caused it.</summary>
    public KielException(string message, Exception? innerException) : base(message, innerException) { }

    /// <summary>True when repeating the same operation later may succeed.</summary>
    public virtual bool IsRetriable => false;
}
