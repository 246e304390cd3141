//! The words every set of pages shares (signing in and out), in English,
//! Russian and Ukrainian.

pub type Words = (&'static str, &'static str, &'static str);

pub const SIGN_IN: Words = ("Sign in", "Войти", "Увійти");
pub const SIGN_OUT: Words = ("Sign out", "Выйти", "Вийти");
pub const EMAIL: Words = ("Email", "Эл. почта", "Ел. пошта");
pub const PASSWORD: Words = ("Password", "Пароль", "Пароль");
pub const CODE: Words = (
    "Authentication code (if enabled)",
    "Код подтверждения (если включён)",
    "Код підтвердження (якщо увімкнено)",
);
pub const REFUSED: Words = (
    "Wrong email, password or code.",
    "Неверная почта, пароль или код.",
    "Невірна пошта, пароль або код.",
);
pub const LOCKED: Words = (
    "Too many failed attempts. Sign-in is locked until",
    "Слишком много неудачных попыток. Вход заблокирован до",
    "Забагато невдалих спроб. Вхід заблоковано до",
);
