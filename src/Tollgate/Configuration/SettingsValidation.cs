using Microsoft.Extensions.Options;

namespace Tollgate.Configuration;

internal static class SettingsValidation
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
