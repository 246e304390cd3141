//! The console's words in English, Russian and Ukrainian.

pub use crate::web::words::{Words, SIGN_OUT};

pub const CONSOLE: Words = ("Operator console", "Консоль оператора", "Консоль оператора");
pub const MERCHANTS: Words = ("Merchants", "Мерчанты", "Мерчанти");
pub const TRADERS: Words = ("Traders", "Трейдеры", "Трейдери");
pub const DEALS: Words = ("Deals", "Сделки", "Угоди");
pub const DISPUTES: Words = ("Disputes", "Споры", "Спори");
pub const NOTIFICATIONS: Words = (
    "Unmatched notifications",
    "Несопоставленные уведомления",
    "Незіставлені сповіщення",
);
pub const NOTIFICATIONS_SHORT: Words = ("Notifications", "Уведомления", "Сповіщення");
pub const PAYOUTS: Words = (
    "Payouts waiting",
    "Выплаты в ожидании",
    "Виплати в очікуванні",
);
pub const PAYOUTS_SHORT: Words = ("Payouts", "Выплаты", "Виплати");
pub const AUDIT: Words = ("Audit log", "Журнал действий", "Журнал дій");
pub const READ_ONLY: Words = (
    "Your role (support) may only read; nothing was changed.",
    "Ваша роль (support) только для чтения; ничего не изменено.",
    "Ваша роль (support) лише для читання; нічого не змінено.",
);
pub const NAME: Words = ("Name", "Название", "Назва");
pub const ID: Words = ("ID", "ID", "ID");
pub const MODE: Words = ("Mode", "Режим", "Режим");
pub const TEST: Words = ("test", "тест", "тест");
pub const LIVE: Words = ("live", "боевой", "бойовий");
pub const ON: Words = ("on", "вкл.", "увімк.");
pub const OFF: Words = ("off", "выкл.", "вимк.");
pub const SWITCH_ON: Words = ("Switch on", "Включить", "Увімкнути");
pub const SWITCH_OFF: Words = ("Switch off", "Выключить", "Вимкнути");
pub const PUBLIC_API: Words = ("Public API", "Публичный API", "Публічний API");
pub const ALLOWED: Words = ("allowed", "разрешён", "дозволено");
pub const FORBIDDEN: Words = ("forbidden", "запрещён", "заборонено");
pub const FORBID_PUBLIC_API: Words = (
    "Forbid the public API",
    "Запретить публичный API",
    "Заборонити публічний API",
);
pub const CALLBACK_URL: Words = ("Callback URL", "URL колбэков", "URL колбеків");
pub const RETURN_URL: Words = ("Return URL", "URL возврата", "URL повернення");
pub const SAVE: Words = ("Save", "Сохранить", "Зберегти");
pub const SETTINGS: Words = ("Settings", "Настройки", "Налаштування");
pub const SITE: Words = ("Site", "Сайт", "Сайт");
pub const CURRENCY: Words = ("Currency", "Валюта", "Валюта");
pub const CABINETS: Words = ("Cabinets", "Кабинеты", "Кабінети");
pub const BANK: Words = ("Bank", "Банк", "Банк");
pub const METHOD: Words = ("Method", "Метод", "Метод");
pub const REQUISITE: Words = ("Requisite", "Реквизит", "Реквізит");
pub const LIMITS: Words = ("Limits", "Лимиты", "Ліміти");
pub const OPEN_DEALS: Words = ("Open deals", "Открытые сделки", "Відкриті угоди");
pub const TURNOVER_TODAY: Words = ("Turnover today", "Оборот сегодня", "Оборот сьогодні");
pub const ACTIVE: Words = ("Active", "Активен", "Активний");
pub const STATUS: Words = ("Status", "Статус", "Статус");
pub const TRADER: Words = ("Trader", "Трейдер", "Трейдер");
pub const ANY: Words = ("Any", "Любой", "Будь-який");
pub const SHOW: Words = ("Show", "Показать", "Показати");
pub const AMOUNT: Words = ("Amount", "Сумма", "Сума");
pub const CREATED: Words = ("Created", "Создана", "Створено");
pub const DEADLINE: Words = ("Deadline", "Срок", "Термін");
pub const REASON: Words = ("Reason", "Причина", "Причина");
pub const INVOICE: Words = ("Invoice", "Счёт", "Рахунок");
pub const COMPLETED: Words = (
    "Money arrived: complete",
    "Деньги пришли: завершить",
    "Гроші надійшли: завершити",
);
pub const CANCELED: Words = (
    "No money: cancel",
    "Денег нет: отменить",
    "Грошей немає: скасувати",
);
pub const CONFIRM: Words = (
    "Money arrived: complete",
    "Деньги пришли: завершить",
    "Гроші надійшли: завершити",
);
pub const TEXT: Words = ("Text", "Текст", "Текст");
pub const RECEIVED: Words = ("Received", "Получено", "Отримано");
pub const DEAL: Words = ("Deal", "Сделка", "Угода");
pub const MATCH: Words = (
    "Settle this deal",
    "Закрыть этой сделкой",
    "Закрити цією угодою",
);
pub const CONFIRM_AMOUNT: Words = (
    "The amounts differ: I confirm the deal's amount was received",
    "Суммы различаются: подтверждаю, что сумма сделки получена",
    "Суми відрізняються: підтверджую, що суму угоди отримано",
);
pub const NO_OPEN_DEAL: Words = (
    "No open deal of this trader.",
    "Открытых сделок трейдера нет.",
    "Відкритих угод трейдера немає.",
);
pub const NONE: Words = ("Nothing here.", "Здесь пусто.", "Тут порожньо.");
pub const DONE: Words = ("Done.", "Готово.", "Готово.");
pub const TIME: Words = ("Time", "Время", "Час");
pub const WHO: Words = ("Who", "Кто", "Хто");
pub const ACTION: Words = ("Action", "Действие", "Дія");
pub const TARGET: Words = ("Target", "Объект", "Об'єкт");
pub const DETAIL: Words = ("Detail", "Подробности", "Деталі");
pub const MERCHANT: Words = ("Merchant", "Мерчант", "Мерчант");
pub const DEADLINE_PAYOUT: Words = ("Deadline", "Срок", "Термін");
pub const SERVICES: Words = ("Services", "Сервисы", "Сервіси");
pub const RATES_SHORT: Words = ("Rates", "Курсы", "Курси");
pub const RATE: Words = ("Rate", "Курс", "Курс");
pub const PAYOUT_FEES: Words = ("Payout fees", "Комиссии выплат", "Комісії виплат");
pub const ADJUSTMENTS: Words = ("Adjustments", "Корректировки", "Коригування");
pub const ADJUST: Words = ("Adjust the balance", "Изменить баланс", "Змінити баланс");
pub const CREDIT: Words = ("Credit", "Зачислить", "Зарахувати");
pub const DEBIT: Words = ("Debit", "Списать", "Списати");
pub const BALANCES: Words = ("Balances", "Балансы", "Баланси");
pub const AVAILABLE_BALANCE: Words = ("Available", "Доступно", "Доступно");
pub const PENDING_PAYOUTS: Words = ("Pending payouts", "В выплатах", "У виплатах");
pub const RESERVE: Words = ("Reserve", "Резерв", "Резерв");
pub const CODE: Words = ("Code", "Код", "Код");
pub const FLOW: Words = ("Flow", "Поток", "Потік");
pub const FEE: Words = ("Fee", "Комиссия", "Комісія");
pub const REFUND_FEE: Words = (
    "Refund fee",
    "Комиссия при возврате",
    "Комісія при поверненні",
);
pub const VERIFICATION_AMOUNT: Words = ("Verification amount", "Сумма проверки", "Сума перевірки");
pub const ENABLED: Words = ("Enabled", "Включён", "Увімкнено");
pub const AVAILABLE: Words = ("Available", "Доступен", "Доступний");
pub const YES: Words = ("yes", "да", "так");
pub const NO: Words = ("no", "нет", "ні");
pub const KEPT: Words = ("kept", "удерживается", "утримується");
pub const RETURNED: Words = ("returned", "возвращается", "повертається");
pub const NEW_MERCHANT: Words = ("New merchant", "Новый мерчант", "Новий мерчант");
pub const CREATE: Words = ("Create", "Создать", "Створити");
pub const CREDENTIALS_ONCE: Words = (
    "These credentials are shown once, on this page only: keep them now.",
    "Эти ключи показаны один раз, только на этой странице: сохраните их сейчас.",
    "Ці ключі показано один раз, лише на цій сторінці: збережіть їх зараз.",
);
pub const NOT_SET: Words = ("not set", "не задан", "не задано");
pub const AMOUNT_MIN: Words = ("Min amount", "Мин. сумма", "Мін. сума");
pub const AMOUNT_MAX: Words = ("Max amount", "Макс. сумма", "Макс. сума");
pub const FEE_RATE: Words = ("Fee rate, %", "Ставка комиссии, %", "Ставка комісії, %");
pub const FEE_FIX: Words = ("Fee, fixed", "Комиссия, фикс.", "Комісія, фікс.");
pub const FEE_MIN: Words = ("Fee, min", "Комиссия, мин.", "Комісія, мін.");
pub const FEE_MAX: Words = (
    "Fee, max (0: none)",
    "Комиссия, макс. (0: нет)",
    "Комісія, макс. (0: немає)",
);
pub const RESERVE_RATE: Words = ("Reserve rate, %", "Ставка резерва, %", "Ставка резерву, %");
pub const RESERVE_LIFETIME: Words = (
    "Reserve lifetime, s",
    "Срок резерва, с",
    "Термін резерву, с",
);
pub const VERIFICATION_ZERO: Words = (
    "Verification amount (0: none)",
    "Сумма проверки (0: нет)",
    "Сума перевірки (0: немає)",
);
pub const IN_UNITS: Words = (
    "Amounts in the service's currency, rates in percent; an empty field is 0.",
    "Суммы в валюте сервиса, ставки в процентах; пустое поле — 0.",
    "Суми у валюті сервісу, ставки у відсотках; порожнє поле — 0.",
);
pub const AGAINST: Words = (
    "Against the traders' settlement currency:",
    "К расчётной валюте трейдеров:",
    "До розрахункової валюти трейдерів:",
);
pub const RATE_PERCENT: Words = ("Rate, %", "Ставка, %", "Ставка, %");
pub const FIXED: Words = ("Fixed", "Фикс.", "Фікс.");
pub const MIN: Words = ("Min", "Мин.", "Мін.");
pub const MAX: Words = ("Max", "Макс.", "Макс.");
pub const ON_TOP: Words = (
    "Charged on top of each payout; empty fields are 0, a max of 0 is no cap.",
    "Взимается сверх каждой выплаты; пустые поля — 0, макс. 0 — без ограничения.",
    "Стягується понад кожну виплату; порожні поля — 0, макс. 0 — без обмеження.",
);
