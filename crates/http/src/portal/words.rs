//! The portal's words in English, Russian and Ukrainian.

pub use crate::web::words::{Words, SIGN_OUT};

pub const PORTAL: Words = ("Merchant portal", "Кабинет мерчанта", "Кабінет мерчанта");
pub const INVOICES: Words = ("Invoices", "Счета", "Рахунки");
pub const TEST_MODE: Words = ("Test mode", "Тестовый режим", "Тестовий режим");
pub const LIVE_MODE: Words = ("Live mode", "Боевой режим", "Бойовий режим");
pub const SWITCH_TO_TEST: Words = ("Switch to test", "Перейти в тест", "Перейти в тест");
pub const SWITCH_TO_LIVE: Words = ("Switch to live", "Перейти в боевой", "Перейти в бойовий");
pub const TEST_NOTE: Words = (
    "Test data: no money moved.",
    "Тестовые данные: деньги не двигались.",
    "Тестові дані: гроші не рухалися.",
);
pub const SEARCH: Words = ("Search", "Найти", "Знайти");
pub const RESET: Words = ("Reset", "Сбросить", "Скинути");
pub const ID_OR_REFERENCE: Words = ("ID or reference", "ID или референс", "ID або референс");
pub const STATUS: Words = ("Status", "Статус", "Статус");
pub const ANY: Words = ("Any", "Любой", "Будь-який");
pub const FROM: Words = ("From", "С", "З");
pub const TO: Words = ("To", "По", "По");
pub const CURRENCY: Words = ("Currency", "Валюта", "Валюта");
pub const AMOUNT: Words = ("Amount", "Сумма", "Сума");
pub const CREATED: Words = ("Created", "Создан", "Створено");
pub const REFERENCE: Words = ("Reference", "Референс", "Референс");
pub const SERVICE: Words = ("Service", "Сервис", "Сервіс");
pub const NONE_FOUND: Words = (
    "No invoices match.",
    "Подходящих счетов нет.",
    "Відповідних рахунків немає.",
);
pub const NEWER: Words = ("← Newer", "← Новее", "← Новіші");
pub const OLDER: Words = ("Older →", "Старее →", "Старіші →");
pub const INVOICE_CREATED: Words = ("Invoice created", "Счёт создан", "Рахунок створено");
pub const INVOICE: Words = ("Invoice", "Счёт", "Рахунок");
pub const RESOLUTION: Words = ("Resolution", "Причина", "Причина");
pub const FEE: Words = ("Fee", "Комиссия", "Комісія");
pub const DEPOSIT: Words = ("To your balance", "На баланс", "На баланс");
pub const PROCESSED_AMOUNT: Words = ("Amount paid", "Оплачено", "Сплачено");
pub const DESCRIPTION: Words = ("Description", "Описание", "Опис");
pub const EXPIRES: Words = ("Expires", "Истекает", "Спливає");
pub const CALLBACK_URL: Words = ("Callback URL", "URL колбэка", "URL колбеку");
pub const TIMELINE: Words = ("Timeline", "История", "Історія");
pub const DEAL: Words = (
    "Deal and requisites",
    "Сделка и реквизиты",
    "Угода та реквізити",
);
pub const BANK: Words = ("Bank", "Банк", "Банк");
pub const REQUISITE: Words = ("Requisite", "Реквизит", "Реквізит");
pub const HOLDER: Words = ("Holder", "Получатель", "Отримувач");
pub const METHOD: Words = ("Method", "Метод", "Метод");
pub const DEADLINE: Words = ("Deadline", "Срок", "Термін");
pub const POSTINGS: Words = ("Ledger postings", "Проводки", "Проводки");
pub const NO_POSTINGS: Words = (
    "No money has moved for this invoice.",
    "По счёту деньги не двигались.",
    "За рахунком гроші не рухалися.",
);
pub const ACCOUNT: Words = ("Account", "Счёт учёта", "Рахунок обліку");
pub const KIND: Words = ("Kind", "Вид", "Вид");
pub const CALLBACKS: Words = ("Callbacks", "Колбэки", "Колбеки");
pub const NO_CALLBACKS: Words = (
    "No callback attempts yet.",
    "Попыток отправки колбэка ещё не было.",
    "Спроб надсилання колбеку ще не було.",
);
pub const ATTEMPT_AT: Words = ("Sent", "Отправлен", "Надіслано");
pub const HTTP_CODE: Words = ("HTTP code", "HTTP-код", "HTTP-код");
pub const RESULT: Words = ("Result", "Результат", "Результат");
pub const ERROR: Words = ("Error", "Ошибка", "Помилка");
pub const ANNOUNCED: Words = ("Announced status", "Статус в колбэке", "Статус у колбеку");
pub const RESEND: Words = (
    "Resend callback",
    "Отправить колбэк повторно",
    "Надіслати колбек повторно",
);
pub const RESENT: Words = (
    "A new callback is on its way.",
    "Новый колбэк поставлен в очередь.",
    "Новий колбек поставлено в чергу.",
);
pub const NO_CALLBACK_URL: Words = (
    "This invoice has no callback URL.",
    "У счёта нет URL колбэка.",
    "Рахунок не має URL колбеку.",
);
pub const OWED: Words = ("Callback owed", "Колбэк поставлен", "Колбек поставлено");
pub const PROCESSED_AT: Words = ("Processed", "Обработан", "Оброблено");
pub const BACK: Words = ("← All invoices", "← Все счета", "← Усі рахунки");
pub const BAD_FILTER: Words = (
    "Some filters could not be read:",
    "Некоторые фильтры не распознаны:",
    "Деякі фільтри не розпізнано:",
);
pub const BALANCES: Words = (
    "Balances and reports",
    "Балансы и отчёты",
    "Баланси та звіти",
);
pub const BOOKS: Words = ("Balances", "Балансы", "Баланси");
pub const NO_BALANCES: Words = (
    "No money in these books yet.",
    "В этих книгах пока нет денег.",
    "У цих книгах ще немає грошей.",
);
pub const AVAILABLE: Words = ("Available", "Доступно", "Доступно");
pub const PENDING_PAYOUTS: Words = (
    "Held for payouts",
    "Удержано под выплаты",
    "Утримано під виплати",
);
pub const RESERVE: Words = ("Reserve", "Резерв", "Резерв");
pub const DAILY_REPORT: Words = ("Daily report", "Дневной отчёт", "Денний звіт");
pub const DATE: Words = ("Date (UTC)", "Дата (UTC)", "Дата (UTC)");
pub const SHOW: Words = ("Show", "Показать", "Показати");
pub const DOWNLOAD_CSV: Words = ("Download CSV", "Скачать CSV", "Завантажити CSV");
pub const PAYOUTS: Words = ("Payouts", "Выплаты", "Виплати");
pub const NO_PAYOUTS: Words = (
    "No payouts match.",
    "Подходящих выплат нет.",
    "Відповідних виплат немає.",
);
