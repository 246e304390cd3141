//! The trader panel's words in English, Russian and Ukrainian.

pub use crate::web::words::{Words, SIGN_OUT};

pub const PANEL: Words = ("Trader panel", "Панель трейдера", "Панель трейдера");
pub const DEALS: Words = ("Deals", "Сделки", "Угоди");
pub const PAYOUTS: Words = ("Payouts", "Выплаты", "Виплати");
pub const CABINETS: Words = ("Cabinets", "Кабинеты", "Кабінети");
pub const BANK: Words = ("Bank", "Банк", "Банк");
pub const BALANCES: Words = ("Balances", "Балансы", "Баланси");
pub const TEST_NOTE: Words = (
    "Test trader: test deals only, no money moves.",
    "Тестовый трейдер: только тестовые сделки, деньги не двигаются.",
    "Тестовий трейдер: лише тестові угоди, гроші не рухаються.",
);

pub const OPEN_DEALS: Words = ("Waiting for money", "Ожидают перевода", "Очікують переказу");
pub const NO_OPEN_DEALS: Words = (
    "No deal is waiting for a transfer.",
    "Нет сделок, ожидающих перевода.",
    "Немає угод, що очікують переказу.",
);
pub const EXPECT: Words = ("Expect exactly", "Ожидайте ровно", "Очікуйте рівно");
pub const TIME_LEFT: Words = ("Time left", "Осталось", "Залишилось");
pub const RAN_OUT: Words = ("time is up", "время вышло", "час вийшов");
pub const TO_REQUISITE: Words = ("To", "На", "На");
pub const CONFIRM: Words = (
    "The money arrived: confirm",
    "Деньги пришли: подтвердить",
    "Гроші надійшли: підтвердити",
);
pub const CUSTOMER_PAID: Words = (
    "The customer says they paid at",
    "Клиент сообщил об оплате в",
    "Клієнт повідомив про оплату о",
);
pub const DISPUTES: Words = ("Disputes", "Споры", "Спори");
pub const NO_DISPUTES: Words = ("No disputes.", "Споров нет.", "Спорів немає.");
pub const RESOLVE_COMPLETED: Words = (
    "Money arrived: complete",
    "Деньги пришли: завершить",
    "Гроші надійшли: завершити",
);
pub const RESOLVE_CANCELED: Words = (
    "No money: cancel",
    "Денег нет: отменить",
    "Грошей немає: скасувати",
);
pub const RECENT_DEALS: Words = ("Ended deals", "Завершённые сделки", "Завершені угоди");
pub const DEAL: Words = ("Deal", "Сделка", "Угода");
pub const STATUS: Words = ("Status", "Статус", "Статус");
pub const AMOUNT: Words = ("Amount", "Сумма", "Сума");
pub const CREATED: Words = ("Created", "Создана", "Створено");
pub const DEADLINE: Words = ("Deadline", "Срок", "Термін");
pub const ENDED: Words = ("Ended", "Завершена", "Завершено");
pub const REASON: Words = ("Reason", "Причина", "Причина");
pub const RECEIPTS: Words = ("Customer's receipts", "Чеки клиента", "Квитанції клієнта");
pub const CABINET: Words = ("Cabinet", "Кабинет", "Кабінет");
pub const BACK_TO_DEALS: Words = ("← All deals", "← Все сделки", "← Усі угоди");

pub const OFFERED: Words = ("Offered to you", "Предложены вам", "Запропоновані вам");
pub const NO_OFFERED: Words = (
    "No payout is offered right now.",
    "Сейчас выплат не предложено.",
    "Зараз виплат не запропоновано.",
);
pub const TAKE: Words = ("Take it", "Взять", "Взяти");
pub const DECLINE: Words = ("Decline", "Отказаться", "Відмовитися");
pub const IN_PROGRESS: Words = ("Yours to pay", "Вам оплатить", "Вам сплатити");
pub const NO_IN_PROGRESS: Words = (
    "You are paying no payout.",
    "Вы не выполняете ни одной выплаты.",
    "Ви не виконуєте жодної виплати.",
);
pub const PAY_TO: Words = ("Pay to", "Перевести на", "Переказати на");
pub const RECEIPT: Words = (
    "Receipt: the bank's reference or text of the transfer",
    "Квитанция: номер или текст перевода из банка",
    "Квитанція: номер або текст переказу з банку",
);
pub const DONE: Words = ("Paid: done", "Оплачено: готово", "Сплачено: готово");
pub const FINISHED_PAYOUTS: Words = (
    "Finished payouts",
    "Завершённые выплаты",
    "Завершені виплати",
);
pub const METHOD: Words = ("Method", "Метод", "Метод");

pub const REQUISITE: Words = ("Requisite", "Реквизит", "Реквізит");
pub const HOLDER: Words = ("Holder", "Получатель", "Отримувач");
pub const LIMITS: Words = ("Limits", "Лимиты", "Ліміти");
pub const MIN: Words = ("from", "от", "від");
pub const MAX: Words = ("up to", "до", "до");
pub const DAILY_LIMIT: Words = ("a day", "в день", "на день");
pub const OPEN_AT_ONCE: Words = ("open at once", "открытых сразу", "відкритих одночасно");
pub const TODAY: Words = (
    "Today's turnover (UTC)",
    "Оборот за сегодня (UTC)",
    "Оборот за сьогодні (UTC)",
);
pub const ON: Words = ("On", "Включён", "Увімкнено");
pub const OFF: Words = ("Off", "Выключен", "Вимкнено");
pub const SWITCH_ON: Words = ("Switch on", "Включить", "Увімкнути");
pub const SWITCH_OFF: Words = ("Switch off", "Выключить", "Вимкнути");
pub const NO_CABINETS: Words = (
    "You have no cabinets yet; the operator adds them.",
    "Кабинетов пока нет; их добавляет оператор.",
    "Кабінетів ще немає; їх додає оператор.",
);
pub const OFF_BY_TRADER: Words = ("switched off by you", "выключен вами", "вимкнено вами");
pub const OFF_BY_OPERATOR: Words = (
    "switched off by the operator; only the operator can switch it on",
    "выключен оператором; включить может только оператор",
    "вимкнено оператором; увімкнути може лише оператор",
);
pub const OFF_DEVICE_SILENT: Words = (
    "switched off: your phone's forwarding app was silent too long",
    "выключен: приложение на телефоне слишком долго молчало",
    "вимкнено: застосунок на телефоні надто довго мовчав",
);
pub const OFF_DEALS_EXPIRED: Words = (
    "switched off: its last deals all expired unpaid",
    "выключен: последние сделки истекли без оплаты",
    "вимкнено: останні угоди спливли без оплати",
);

pub const NOTIFICATIONS: Words = (
    "Bank notifications",
    "Уведомления банка",
    "Повідомлення банку",
);
pub const NO_NOTIFICATIONS: Words = (
    "No bank notifications.",
    "Уведомлений банка нет.",
    "Повідомлень банку немає.",
);
pub const MESSAGES: Words = (
    "Bank messages from your phones",
    "Сообщения банка с ваших телефонов",
    "Повідомлення банку з ваших телефонів",
);
pub const NO_MESSAGES: Words = (
    "No bank messages.",
    "Сообщений банка нет.",
    "Повідомлень банку немає.",
);
pub const MATCHED: Words = ("matched", "сопоставлено", "зіставлено");
pub const UNMATCHED: Words = ("unmatched", "не сопоставлено", "не зіставлено");
pub const ONLY_UNMATCHED: Words = (
    "Only unmatched",
    "Только несопоставленные",
    "Лише незіставлені",
);
pub const ALL: Words = ("All", "Все", "Усі");
pub const RECEIVED: Words = ("Received", "Получено", "Отримано");
pub const FROM: Words = ("From", "От", "Від");

pub const SETTLEMENT: Words = (
    "Settlement with the platform",
    "Расчёты с платформой",
    "Розрахунки з платформою",
);
pub const SETTLEMENT_NOTE: Words = (
    "Below zero: pay-ins your cabinets received that you hold for the platform. Above zero: what the platform owes you for payouts you made.",
    "Меньше нуля: поступления на ваши кабинеты, которые вы держите для платформы. Больше нуля: долг платформы вам за сделанные выплаты.",
    "Менше нуля: надходження на ваші кабінети, які ви тримаєте для платформи. Більше нуля: борг платформи вам за зроблені виплати.",
);
pub const NO_SETTLEMENT: Words = (
    "No money has moved through you yet.",
    "Через вас деньги ещё не проходили.",
    "Через вас гроші ще не проходили.",
);
pub const CURRENCY: Words = ("Currency", "Валюта", "Валюта");
pub const BALANCE: Words = ("Balance", "Баланс", "Баланс");
pub const YOU_HOLD: Words = ("you hold", "у вас", "у вас");
pub const OWED_TO_YOU: Words = ("owed to you", "вам должны", "вам винні");

pub const DONE_CONFIRMED: Words = (
    "Deal confirmed.",
    "Сделка подтверждена.",
    "Угоду підтверджено.",
);
pub const DONE_RESOLVED: Words = ("Dispute resolved.", "Спор решён.", "Спір вирішено.");
pub const DONE_TAKEN: Words = (
    "The payout is yours: pay it and mark it done.",
    "Выплата ваша: переведите деньги и отметьте её.",
    "Виплата ваша: переказуйте гроші та позначте її.",
);
pub const DONE_PAID: Words = ("Payout done.", "Выплата выполнена.", "Виплату виконано.");
pub const DONE_DECLINED: Words = (
    "Declined: it goes to other traders.",
    "Отказ принят: выплата уйдёт другим трейдерам.",
    "Відмову прийнято: виплата піде іншим трейдерам.",
);
pub const DONE_SWITCHED: Words = (
    "Cabinet switched.",
    "Кабинет переключён.",
    "Кабінет перемкнено.",
);
pub const CHANGED: Words = (
    "That could not be done: it has changed in the meantime. Here it is as it is now.",
    "Не получилось: пока вы смотрели, всё изменилось. Вот как обстоит дело сейчас.",
    "Не вийшло: поки ви дивилися, все змінилося. Ось як справи зараз.",
);
pub const BAD_RECEIPT: Words = (
    "Enter the receipt (1 to 255 characters).",
    "Укажите квитанцию (от 1 до 255 символов).",
    "Вкажіть квитанцію (від 1 до 255 символів).",
);
pub const BACK: Words = ("← Back", "← Назад", "← Назад");
pub const TRADER_OFF: Words = (
    "Your trader account is switched off. Ask the operator.",
    "Ваш аккаунт трейдера выключен. Обратитесь к оператору.",
    "Ваш акаунт трейдера вимкнено. Зверніться до оператора.",
);
