using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Tollgate.Http;

namespace Tollgate.Configuration;

internal static partial class SettingsValidation
{
    /// <summary>
    /// Validates the settings at start with <paramref name="errors"/>, which lists every problem,
    /// each naming its setting, so one start reports them all.
    /// </summary>
    public static OptionsBuilder<T> ValidateSettings<T>(this OptionsBuilder<T> builder, Func<T, IEnumerable<string>> errors)
        where T : class
    {
        builder.Services.AddSingleton<IValidateOptions<T>>(new Validator<T>(errors));
        return builder.ValidateOnStart();
    }

    /// <summary>
    /// Reports the elements of lists and dictionaries under <paramref name="section"/> that have a setting of the
    /// wrong type. The configuration binder skips such an element without a word (a model whose price is
    /// <c>abc</c> would vanish from the catalogue), so each one is bound alone to find out why.
    /// </summary>
    public static OptionsBuilder<T> ValidateElementTypes<T>(this OptionsBuilder<T> builder, string section)
        where T : class
    {
        builder.Services.AddSingleton<IValidateOptions<T>>(services =>
            new ElementTypeValidator<T>(services.GetRequiredService<IConfiguration>().GetSection(section)));
        return builder.ValidateOnStart();
    }

    /// <summary>
    /// A setting that could not be read as its type (<c>Tollgate:ApiKeys:CacheTtl=banana</c>, a log level, an
    /// address in <c>Urls</c>) as one line naming it, like the range checks' messages; null when
    /// <paramref name="exception"/> is not such a failure.
    /// </summary>
    public static string? WrongType(Exception exception)
    {
        if (exception is InvalidOperationException { Source: "Microsoft.Extensions.Logging.Configuration" } &&
            LogLevelFailure().Match(exception.Message) is { Success: true } level)
        {
            return $"Logging:LogLevel settings must be Trace, Debug, Information, Warning, Error, Critical or None, not '{HeaderText.Clean(level.Groups["value"].Value, 60)}'";
        }

        if (exception is FormatException && exception.TargetSite?.DeclaringType?.FullName == "Microsoft.AspNetCore.Http.BindingAddress")
        {
            return $"Urls must be addresses such as http://localhost:5000 (several separated by ;): {HeaderText.Clean(exception.Message, 120)}";
        }

        if (exception is not InvalidOperationException { Source: "Microsoft.Extensions.Configuration.Binder" })
        {
            return null;
        }

        if (BinderFailure().Match(exception.Message) is not { Success: true } failure)
        {
            return string.Join(' ', exception.Message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        }

        var value = HeaderText.Clean(failure.Groups["value"].Value, 60) ?? "";
        var type = failure.Groups["type"].Value;
        var expected =
            type.Contains("System.TimeSpan", StringComparison.Ordinal) ? "a time span such as 00:00:30 (hh:mm:ss)" :
            type.Contains("System.Boolean", StringComparison.Ordinal) ? "true or false" :
            WholeNumber().IsMatch(type) ? "a whole number" :
            type.Contains("System.Decimal", StringComparison.Ordinal) || type.Contains("System.Double", StringComparison.Ordinal) ? "a number" :
            $"a {type}";
        return $"{failure.Groups["path"].Value} must be {expected}, not '{value}'";
    }

    [GeneratedRegex(@"^Failed to convert configuration value '(?<value>.*)' at '(?<path>[^']*)' to type '(?<type>[^']*)'", RegexOptions.Singleline)]
    private static partial Regex BinderFailure();

    [GeneratedRegex(@"System\.U?Int(16|32|64)\b|System\.S?Byte\b")]
    private static partial Regex WholeNumber();

    [GeneratedRegex(@"^Configuration value '(?<value>.*)' is not supported", RegexOptions.Singleline)]
    private static partial Regex LogLevelFailure();

    private static void FindWrongTypes(IConfiguration section, Type type, List<string> problems, int depth = 0)
    {
        if (depth > 8)
        {
            return;
        }

        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var element = ElementType(property.PropertyType);
            if (element is null)
            {
                if (IsComplex(property.PropertyType))
                {
                    FindWrongTypes(section.GetSection(property.Name), property.PropertyType, problems, depth + 1);
                }

                continue;
            }

            foreach (var child in section.GetSection(property.Name).GetChildren())
            {
                try
                {
                    child.Get(element);
                }
                catch (InvalidOperationException exception) when (WrongType(exception) is { } problem)
                {
                    problems.Add(problem);
                }

                // The binder stops at an element's first problem; its own lists may hold more.
                if (IsComplex(element))
                {
                    FindWrongTypes(child, element, problems, depth + 1);
                }
            }
        }
    }

    /// <summary>The element type of a list, array or dictionary (its values); null for anything else.</summary>
    private static Type? ElementType(Type type)
    {
        if (type == typeof(string))
        {
            return null;
        }

        if (type.IsArray)
        {
            return type.GetElementType();
        }

        if (!type.IsGenericType)
        {
            return null;
        }

        var arguments = type.GetGenericArguments();
        var definition = type.GetGenericTypeDefinition();
        return definition == typeof(Dictionary<,>) || definition == typeof(IDictionary<,>) || definition == typeof(IReadOnlyDictionary<,>) ? arguments[1]
            : definition == typeof(List<>) || definition == typeof(IList<>) || definition == typeof(IReadOnlyList<>) ||
              definition == typeof(ICollection<>) || definition == typeof(IReadOnlyCollection<>) || definition == typeof(IEnumerable<>) ||
              definition == typeof(HashSet<>) || definition == typeof(ISet<>) ? arguments[0]
            : null;
    }

    private static bool IsComplex(Type type) => type.IsClass && type != typeof(string) && !type.IsArray;

    private sealed class ElementTypeValidator<T>(IConfiguration section) : IValidateOptions<T>
        where T : class
    {
        public ValidateOptionsResult Validate(string? name, T options)
        {
            var problems = new List<string>();
            FindWrongTypes(section, typeof(T), problems);
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }

    private sealed class Validator<T>(Func<T, IEnumerable<string>> errors) : IValidateOptions<T>
        where T : class
    {
        public ValidateOptionsResult Validate(string? name, T options)
        {
            var problems = errors(options).ToArray();
            return problems.Length == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}
