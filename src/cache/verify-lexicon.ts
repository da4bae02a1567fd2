/**
 * The word lists the hit verifier (verify.ts) reads: stop words, number words, units, negations, opposites,
 * time words, role prepositions. Plain data, kept general (everyday English), not fitted to the test set.
 */
export const STOP = new Set(
  'a an the of in on at by for with about as is are was were be been being am do does did has have had will would shall should can could may might must i me my we us our you your he him his she her they them their it its this that these those there here what which who whom whose when where why how if or and but so some any each every all both just also too very really quite please to from into onto than then vs versus me get go'.split(' '),
);

export const NUMBER_WORDS: Record<string, string> = {
  zero: '0', one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7', eight: '8', nine: '9', ten: '10',
  eleven: '11', twelve: '12', thirteen: '13', fifteen: '15', twenty: '20', thirty: '30', forty: '40', fifty: '50', hundred: '100',
  thousand: '1000', million: '1000000', dozen: '12', half: '0.5',
};

/** Unit spellings → one name. "in" (inch) and "m" alone are left out: too often a word. */
export const UNITS: Record<string, string> = {};
for (const [name, spellings] of Object.entries({
  km: 'km kms kilometer kilometers kilometre kilometres',
  mile: 'mile miles mi',
  nmi: 'nautical',
  meter: 'meter meters metre metres',
  cm: 'cm centimeter centimeters centimetre centimetres',
  mm: 'mm millimeter millimeters millimetre millimetres',
  inch: 'inch inches',
  foot: 'ft foot feet',
  yard: 'yd yard yards',
  kg: 'kg kgs kilogram kilograms kilo kilos',
  gram: 'g gram grams gramme grammes',
  mg: 'mg milligram milligrams',
  ug: 'µg mcg microgram micrograms',
  pound: 'lb lbs pound pounds',
  ounce: 'oz ounce ounces',
  stone: 'stone stones',
  liter: 'l liter liters litre litres',
  ml: 'ml milliliter milliliters millilitre millilitres',
  gallon: 'gallon gallons gal',
  quart: 'quart quarts qt',
  pint: 'pint pints',
  cup: 'cup cups',
  tbsp: 'tbsp tablespoon tablespoons',
  tsp: 'tsp teaspoon teaspoons',
  celsius: 'celsius °c centigrade',
  fahrenheit: 'fahrenheit °f',
  kelvin: 'kelvin',
  usd: 'usd dollar dollars $',
  eur: 'eur euro euros €',
  gbp: 'gbp £ sterling',
  jpy: 'jpy yen',
  mph: 'mph',
  kmh: 'km/h kph kmh',
  knot: 'knot knots',
  second: 'sec secs seconds',
  minute: 'min mins minute minutes',
  hour: 'hr hrs hour hours',
  day: 'day days',
  week: 'week weeks',
  month: 'month months',
  year: 'year years yr yrs',
  kb: 'kb kilobyte kilobytes',
  mb: 'mb megabyte megabytes',
  gb: 'gb gigabyte gigabytes',
  tb: 'tb terabyte terabytes',
  watt: 'w watt watts',
  kw: 'kw kilowatt kilowatts',
  hp: 'hp horsepower',
  acre: 'acre acres',
  hectare: 'ha hectare hectares',
  percent: '% percent per-cent',
  word: 'word words',
  page: 'page pages',
  people: 'people person persons players',
})) {
  for (const s of spellings.split(' ')) UNITS[s] = name;
}

export const NEGATIONS = new Set(['not', 'no', 'never', 'without', 'none', 'nothing', 'nobody', 'nowhere', 'neither', 'nor', 'avoid', 'unsafe', 'illegal', 'inedible']);
/** Words whose negative is written with a prefix ("lock" / "unlock"); the pair counts as a negation. */
export const NEGATIVE_PREFIXES = ['un', 'in', 'il', 'im', 'ir', 'dis', 'non'];

/**
 * Opposites: one side of a pair in each question is another question. Compared as stems (verify.ts `stem`), so "bigger" is "big".
 * Kept general (everyday verbs and adjectives), not fitted to the test set.
 */
export const ANTONYMS: Array<[string, string]> = (
  'buy:sell purchase:sell increase:decrease increase:reduce raise:lower rise:fall up:down gain:lose win:lose profit:loss ' +
  'upload:download import:export encrypt:decrypt encode:decode compress:decompress zip:unzip lock:unlock install:uninstall ' +
  'connect:disconnect enable:disable open:close start:stop start:end begin:end push:pull send:receive lend:borrow give:take ' +
  'add:remove add:subtract plus:minus ascend:descend ascending:descending max:min maximum:minimum high:low big:small large:small ' +
  'long:short tall:short hot:cold warm:cool fast:slow quick:slow heavy:light cheap:expensive good:bad better:worse best:worst ' +
  'early:late strong:weak hard:easy hard:soft more:less more:fewer wide:narrow deep:shallow rich:poor thick:thin old:new old:young ' +
  'pro:con advantage:disadvantage positive:negative true:false odd:even first:last before:after above:below over:under ' +
  'inside:outside input:output left:right north:south east:west sunrise:sunset rise:set arrive:depart arrival:departure ' +
  'import:export inhale:exhale male:female men:women boy:girl husband:wife accept:reject allow:forbid allow:ban include:exclude ' +
  'love:hate like:dislike happy:sad pass:fail debit:credit income:expense asset:liability lead:follow attack:defend ' +
  'hire:fire employ:fire enter:exit entry:exit inbound:outbound incoming:outgoing maximize:minimize maximise:minimise day:night show:hid upgrade:downgrade creat:delet'
)
  .split(' ')
  .map((p) => p.split(':') as [string, string]);

export const TIME_WORDS = new Set([
  'yesterday', 'today', 'tonight', 'tomorrow', 'now', 'currently', 'current', 'ago', 'morning', 'afternoon',
  'evening', 'night', 'weekend', 'spring', 'summer', 'autumn', 'winter', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday',
  'saturday', 'sunday', 'january', 'february', 'march', 'april', 'june', 'july', 'august', 'september', 'october', 'november',
  'december', 'christmas', 'easter', 'sunrise', 'sunset',
]);
export const TIME_SAME: Record<string, string> = { currently: 'now', current: 'now', today: 'now', fall: 'autumn' };
export const TIME_MODIFIERS = new Set(['last', 'next', 'this', 'previous', 'coming', 'upcoming']);
export const TIME_NOUNS = new Set(['week', 'weekend', 'month', 'year', 'night', 'morning', 'evening', 'season', 'time', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday', 'summer', 'winter', 'spring', 'autumn', 'decade', 'century', 'quarter']);
export const PAST = new Set(['was', 'were', 'did', 'happened', 'ago', 'yesterday', 'last']);
export const FUTURE = new Set(['will', 'tomorrow', 'next', 'upcoming', 'gonna']);

/** Prepositions whose object has a role: "from A to B" is not "from B to A". */
export const ROLE_WORDS = new Set(['from', 'to', 'into', 'onto', 'than', 'toward', 'towards']);
export const DETERMINERS = new Set(['the', 'a', 'an', 'my', 'your', 'our', 'their', 'his', 'her', 'its', 'this', 'that', 'some']);

export const CONTRACTIONS: Array<[RegExp, string]> = [
  [/\bcan['’]t\b/gi, 'can not'],
  [/\bwon['’]t\b/gi, 'will not'],
  [/\bcannot\b/gi, 'can not'],
  [/n['’]t\b/gi, ' not'],
  [/['’](re|ve|ll|d|m)\b/gi, ''],
  [/['’]s\b/gi, ''],
];
