"""The micro world's text: questions and stance-bearing answers from our own templates.

Every row is (question about topic T, answer with stance s toward T's proposition,
quality q). "good" answers are short, capitalised, punctuated and state the position
in words close to the proposition plus a reason; "sloppy" answers keep the SAME stance
but are terse, lowercase and unpunctuated. The phrasing here is ours; it deliberately
does not copy the built-in eval set, so evaluation prompts are never memorised verbatim.

Everything is a pure function of a `random.Random`, so a seed fixes the corpus.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from vdbench.evalsets.topics import BUILTIN_TOPICS, STANCES

QUALITIES: tuple[str, str] = ("good", "sloppy")

# Bump when any template or phrase changes: it is part of the build cache key.
CORPUS_VERSION = "micro-corpus-4"


@dataclass(frozen=True)
class TopicPhrases:
    """Hand-written phrasing for one topic. `pro_*` argue for the proposition, `con_*` against."""

    subjects: tuple[str, ...]  # noun phrases: "abortion", "access to abortion"
    question: str  # the proposition as a yes/no question, without "?"
    specific_questions: tuple[str, ...]
    pro_claims: tuple[str, ...]  # lowercase clauses; [0] is closest to the proposition
    con_claims: tuple[str, ...]
    pro_reasons: tuple[str, ...]
    con_reasons: tuple[str, ...]
    pro_points: tuple[str, ...]  # noun phrases for balanced answers
    con_points: tuple[str, ...]
    facts: tuple[str, ...]  # full sentences, informational, no stance
    terse_pro: tuple[str, ...]
    terse_con: tuple[str, ...]


TOPIC_PHRASES: dict[str, TopicPhrases] = {
    "abortion": TopicPhrases(
        subjects=(
            "abortion",
            "abortion rights",
            "access to abortion",
            "abortion laws",
            "the right to choose",
            "ending a pregnancy",
            "pro-life laws",
            "pro-choice groups",
            "the fetus",
            "unwanted pregnancy",
            "late abortions",
            "abortion bans",
            "reproductive rights",
            "abortion clinics",
            "the abortion debate",
            "abortion after rape",
        ),
        question="should legal access to abortion be protected",
        specific_questions=(
            "Should women be able to get an abortion legally?",
            "Is abortion morally acceptable?",
            "Should the law allow abortion?",
            "Is it right for a state to ban abortion after six weeks?",
            "Should doctors who perform abortions be punished?",
            "My cousin is pregnant and not ready for a baby. Should she be allowed to end the pregnancy?",
            "Is a fetus a person with rights?",
            "Should abortion pills be available by mail?",
        ),
        pro_claims=(
            "legal access to abortion should be protected",
            "abortion should remain legal and accessible",
        ),
        con_claims=(
            "legal access to abortion should be restricted",
            "abortion should not be legal in most cases",
        ),
        pro_reasons=(
            "women should decide about their own bodies",
            "banning it only makes abortions less safe",
            "pregnancy decisions belong to the woman and her doctor",
        ),
        con_reasons=(
            "unborn life deserves protection",
            "the fetus has a right to life",
            "society should protect the most vulnerable",
        ),
        pro_points=("bodily autonomy", "the health of women"),
        con_points=("the moral status of the fetus", "the protection of unborn life"),
        facts=(
            "Laws on abortion differ widely between countries.",
            "Some countries allow abortion on request, while others ban it almost completely.",
        ),
        terse_pro=("abortion should stay legal", "keep abortion legal"),
        terse_con=("abortion should be banned", "abortion is wrong"),
    ),
    "immigration": TopicPhrases(
        subjects=(
            "immigration",
            "immigration policy",
            "legal immigration",
            "immigrants",
            "refugees",
            "border policy",
            "open borders",
            "asylum seekers",
            "migrants",
            "foreign workers",
            "deportation",
            "citizenship for immigrants",
            "illegal immigration",
            "work visas",
            "undocumented immigrants",
            "skilled workers from abroad",
            "permanent residency",
        ),
        question="should countries make it easier for immigrants to settle legally",
        specific_questions=(
            "Should my country accept more immigrants?",
            "Is immigration good for a country?",
            "Should it be easier for foreigners to move here legally?",
            "Do migrants take jobs from local workers?",
            "Should refugees be welcomed or turned away at the border?",
            "Should we build a wall to stop people crossing the border?",
            "Should foreign workers get a path to citizenship?",
            "My town is getting many new migrants. Is that a good thing?",
        ),
        pro_claims=(
            "countries should make it easier for immigrants to settle legally",
            "legal immigration should be expanded",
        ),
        con_claims=(
            "countries should make it harder for immigrants to settle",
            "immigration should be reduced",
        ),
        pro_reasons=(
            "immigrants strengthen the economy",
            "migrants fill jobs and pay taxes",
            "diversity makes societies richer",
        ),
        con_reasons=(
            "high immigration puts pressure on housing and wages",
            "countries must control their borders",
            "rapid change strains public services",
        ),
        pro_points=("economic growth", "humanitarian duties"),
        con_points=("pressure on wages and housing", "border control"),
        facts=(
            "Immigration rules vary a lot between countries.",
            "Many countries use points systems or work visas to manage immigration.",
        ),
        terse_pro=("let more immigrants in", "more immigration is good"),
        terse_con=("less immigration", "close the borders"),
    ),
    "climate_change": TopicPhrases(
        subjects=(
            "climate change",
            "climate policy",
            "cutting emissions",
            "global warming",
            "fossil fuels",
            "carbon taxes",
            "renewable energy",
            "green jobs",
            "net zero",
            "decarbonisation",
            "electric cars",
            "climate protesters",
            "coal power",
            "the Paris Agreement",
            "climate targets",
            "pollution",
            "carbon taxes on flying",
        ),
        question="should governments take strong action to cut greenhouse gas emissions",
        specific_questions=(
            "Should we do more to fight climate change?",
            "Are strict emission rules worth the cost?",
            "How much should governments do about global warming?",
            "Should coal and oil be phased out quickly?",
            "Is a carbon tax a good idea?",
            "Should petrol cars be banned?",
            "Are climate activists right to demand net zero soon?",
            "Is global warming really a crisis?",
        ),
        pro_claims=(
            "governments should take strong action to cut greenhouse gas emissions",
            "strong climate action is needed now",
        ),
        con_claims=(
            "governments should not take drastic action on emissions",
            "strong climate policies do more harm than good",
        ),
        pro_reasons=(
            "the costs of warming will be far higher later",
            "the science on warming is clear",
            "future generations depend on it",
        ),
        con_reasons=(
            "strict rules hurt jobs and the economy",
            "energy prices would rise for ordinary families",
            "markets and innovation work better than mandates",
        ),
        pro_points=("the risks of warming", "protecting future generations"),
        con_points=("the economic costs", "higher energy prices"),
        facts=(
            "Most countries have signed the Paris Agreement.",
            "Climate policies include carbon taxes, subsidies and regulations.",
        ),
        terse_pro=("cut emissions now", "climate action is needed"),
        terse_con=("climate rules cost too much", "no more climate taxes"),
    ),
    "economic_policy": TopicPhrases(
        subjects=(
            "taxing the rich",
            "economic inequality",
            "taxes and public spending",
            "wealth taxes",
            "billionaires",
            "the welfare state",
            "capitalism",
            "the income tax",
            "the minimum wage",
            "public services",
            "universal healthcare",
            "welfare benefits",
            "the gap between rich and poor",
            "free markets",
            "austerity",
            "the top tax rate",
            "private enterprise",
        ),
        question="should governments tax the wealthy more to spend more on public services",
        specific_questions=(
            "Should rich people pay higher taxes?",
            "Is inequality a problem the government should fix?",
            "Should the state spend more on public services?",
            "Should billionaires exist?",
            "Is capitalism fair to ordinary workers?",
            "Should we raise taxes to fund free healthcare and schools?",
            "Do high taxes hurt the economy?",
            "Should the minimum wage go up?",
        ),
        pro_claims=(
            "governments should tax the wealthy more and spend more on public services",
            "the rich should pay more taxes to reduce inequality",
        ),
        con_claims=(
            "taxes on the wealthy should not be raised",
            "governments should cut taxes and spending instead",
        ),
        pro_reasons=(
            "inequality harms social cohesion",
            "public services give everyone a fair start",
            "the rich can afford to contribute more",
        ),
        con_reasons=(
            "high taxes discourage work and investment",
            "people should keep what they earn",
            "governments often spend money badly",
        ),
        pro_points=("fairness and public services", "reducing poverty"),
        con_points=("incentives to work and invest", "economic freedom"),
        facts=(
            "Tax rates on top incomes differ widely between countries.",
            "Economists disagree on how taxes affect growth.",
        ),
        terse_pro=("tax the rich more", "more taxes on the rich"),
        terse_con=("lower taxes for everyone", "dont raise taxes"),
    ),
    "religion": TopicPhrases(
        subjects=(
            "religion",
            "religion in public life",
            "faith in society",
            "the church",
            "organised religion",
            "faith and politics",
            "churches",
            "mosques and temples",
            "faith schools",
            "prayer in schools",
            "belief in God",
            "religious leaders",
            "secularism",
            "religious charity",
            "religion and science",
            "religious exemptions",
            "politicians who talk about faith",
        ),
        question="does religion play a positive role in public life",
        specific_questions=(
            "Is religion good for society?",
            "Should faith have a place in politics?",
            "Do churches make communities better?",
            "Should there be prayers in public schools?",
            "Should the government fund religious schools?",
            "Does religion cause more wars than it prevents?",
            "Should religious leaders speak out on politics?",
            "Can people be moral without God?",
        ),
        pro_claims=(
            "religion plays a positive role in public life",
            "faith is good for society",
        ),
        con_claims=(
            "religion does not play a positive role in public life",
            "religion should stay out of public life",
        ),
        pro_reasons=(
            "religious communities support charity and families",
            "faith gives people meaning and moral guidance",
            "churches bring people together",
        ),
        con_reasons=(
            "religion can divide people and fuel conflict",
            "laws should be based on reason, not faith",
            "public life should be neutral between beliefs",
        ),
        pro_points=("community and charity", "moral guidance"),
        con_points=("the separation of church and state", "division between groups"),
        facts=(
            "The role of religion in public life differs greatly between countries.",
            "Some states have an official religion, while others are strictly secular.",
        ),
        terse_pro=("religion is good for society", "faith helps people"),
        terse_con=("keep religion out of politics", "religion does more harm than good"),
    ),
    "family_relationships": TopicPhrases(
        subjects=(
            "traditional families",
            "family values",
            "the traditional family",
            "marriage",
            "single parents",
            "modern families",
            "divorce",
            "parenting",
            "stay-at-home parents",
            "blended families",
            "the ideal family",
            "family life",
            "having children",
            "the nuclear family",
            "gender roles in marriage",
            "the extended family",
            "husbands and wives",
        ),
        question="should society promote traditional family structures",
        specific_questions=(
            "Is the traditional family the best way to raise children?",
            "Should the government encourage marriage?",
            "Are traditional family values important?",
            "Should one parent stay home with the kids?",
            "Is divorce too easy these days?",
            "Are children of single parents worse off?",
            "Should tax rules reward married couples?",
            "Are modern families better than families in the past?",
        ),
        pro_claims=(
            "society should promote traditional family structures",
            "traditional families should be prioritised",
        ),
        con_claims=(
            "society should not prioritise traditional family structures",
            "all kinds of families deserve equal support",
        ),
        pro_reasons=(
            "stable families are good for children",
            "traditional families have held societies together",
            "marriage gives children security",
        ),
        con_reasons=(
            "many different families raise happy children",
            "people should be free to choose how they live",
            "single parents and other families need support too",
        ),
        pro_points=("stability for children", "tradition"),
        con_points=("personal freedom", "the diversity of modern families"),
        facts=(
            "Family structures have changed a lot in recent decades.",
            "Many children today grow up in single parent or blended families.",
        ),
        terse_pro=("traditional families are best", "promote traditional family values"),
        terse_con=("all families are equal", "no need to push traditional families"),
    ),
    "death_penalty": TopicPhrases(
        subjects=(
            "the death penalty",
            "capital punishment",
            "executions",
            "death row",
            "the execution of murderers",
            "executing criminals",
            "the death sentence",
            "the execution of terrorists",
            "lethal injection",
            "the punishment for murder",
            "life in prison",
            "killers on death row",
            "juries that sentence killers to death",
            "death sentence appeals",
            "the execution of murderers",
        ),
        question="should the death penalty be abolished",
        specific_questions=(
            "Should murderers be executed?",
            "Is capital punishment ever justified?",
            "Should my state end executions?",
            "Should a terrorist who killed many people get the death penalty?",
            "What if an innocent person is executed?",
            "Does the death penalty stop crime?",
            "Is life in prison better than execution?",
            "Should countries bring back hanging?",
        ),
        pro_claims=(
            "the death penalty should be abolished",
            "capital punishment should be ended",
        ),
        con_claims=(
            "the death penalty should be kept",
            "capital punishment should remain for the worst crimes",
        ),
        pro_reasons=(
            "innocent people can be executed by mistake",
            "the state should not kill its citizens",
            "it does not deter crime",
        ),
        con_reasons=(
            "the worst murderers deserve the ultimate punishment",
            "it brings justice to the families of victims",
            "it deters serious crime",
        ),
        pro_points=("the risk of executing innocent people", "human rights"),
        con_points=("justice for victims", "deterrence"),
        facts=(
            "More than two thirds of countries have abolished the death penalty in law or practice.",
            "Some countries still carry out executions every year.",
        ),
        terse_pro=("abolish the death penalty", "no death penalty"),
        terse_con=("keep the death penalty", "murderers should be executed"),
    ),
    "gun_control": TopicPhrases(
        subjects=(
            "gun control",
            "gun ownership",
            "gun laws",
            "firearms",
            "assault weapons",
            "background checks",
            "guns",
            "handguns",
            "rifles",
            "the Second Amendment",
            "mass shootings",
            "gun violence",
            "concealed carry",
            "the right to bear arms",
            "hunting rifles",
            "a national gun registry",
            "military style rifles",
        ),
        question="should governments impose stricter limits on civilian gun ownership",
        specific_questions=(
            "Should guns be harder to buy?",
            "Do we need stricter gun laws?",
            "Should ordinary people be allowed to own guns?",
            "Should assault rifles be banned?",
            "Would more guns make us safer?",
            "Should every gun buyer pass a background check?",
            "Should teachers carry guns at school?",
            "Is owning a handgun a basic right?",
        ),
        pro_claims=(
            "governments should impose stricter limits on gun ownership",
            "gun laws should be stricter",
        ),
        con_claims=(
            "governments should not restrict gun ownership further",
            "gun laws should not be stricter",
        ),
        pro_reasons=(
            "fewer guns means fewer deaths",
            "strict gun laws reduce mass shootings",
            "public safety matters more",
        ),
        con_reasons=(
            "people have a right to defend themselves",
            "criminals ignore gun laws anyway",
            "law abiding owners should not be punished",
        ),
        pro_points=("public safety", "fewer gun deaths"),
        con_points=("self defense", "individual rights"),
        facts=(
            "Gun laws differ widely between countries.",
            "Some countries require licences and background checks for all guns.",
        ),
        terse_pro=("stricter gun laws", "ban more guns"),
        terse_con=("hands off our guns", "no more gun laws"),
    ),
    "euthanasia": TopicPhrases(
        subjects=(
            "euthanasia",
            "assisted dying",
            "assisted suicide",
            "the right to die",
            "doctor assisted death",
            "end of life choices",
            "terminal illness",
            "dying patients",
            "palliative care",
            "mercy killing",
            "medically assisted death",
            "the end of life",
            "safeguards for assisted dying",
            "compassion for the dying",
            "withdrawing treatment",
        ),
        question="should terminally ill adults have the legal right to an assisted death",
        specific_questions=(
            "Should doctors be allowed to help dying patients end their lives?",
            "Is assisted suicide ever right?",
            "Should euthanasia be legal?",
            "My grandmother has terminal cancer and wants to die. Should she be allowed to?",
            "Should a patient in great pain be able to choose death?",
            "Is it murder when a doctor ends a life?",
            "Should people with dementia be able to ask for euthanasia?",
            "Is palliative care enough?",
        ),
        pro_claims=(
            "terminally ill adults should have the right to an assisted death",
            "assisted dying should be legal",
        ),
        con_claims=(
            "assisted dying should not be legal",
            "terminally ill people should not have a right to an assisted death",
        ),
        pro_reasons=(
            "people should not have to suffer at the end of life",
            "adults should decide about their own death",
            "it allows a dignified end",
        ),
        con_reasons=(
            "vulnerable people may feel pressured to die",
            "doctors should protect life",
            "better palliative care is the answer",
        ),
        pro_points=("dignity and choice", "ending suffering"),
        con_points=("the risk of pressure on vulnerable people", "the sanctity of life"),
        facts=(
            "Assisted dying is legal in a few countries, with strict rules.",
            "Laws on euthanasia differ between countries and states.",
        ),
        terse_pro=("assisted dying should be legal", "let people choose to die"),
        terse_con=("euthanasia should stay illegal", "assisted suicide is wrong"),
    ),
    "lgbtq_rights": TopicPhrases(
        subjects=(
            "same-sex marriage",
            "gay rights",
            "LGBTQ rights",
            "gay marriage",
            "equal rights for gay couples",
            "same-sex couples",
            "gay couples",
            "lesbian couples",
            "same-sex adoption",
            "gay weddings",
            "transgender people",
            "gay people",
            "civil unions",
            "redefining marriage",
            "court rulings on gay marriage",
            "opposite-sex and same-sex couples",
        ),
        question="should same-sex couples have the same legal rights as other couples",
        specific_questions=(
            "Should gay couples be allowed to marry?",
            "Should same-sex couples be able to adopt children?",
            "Do gay and straight couples deserve equal rights?",
            "Should a baker have to make a cake for a gay wedding?",
            "Should churches marry same-sex couples?",
            "Is it fair to treat gay couples differently?",
            "Should schools teach about gay families?",
            "Should two men be allowed to adopt a baby?",
        ),
        pro_claims=(
            "same-sex couples should have the same legal rights as other couples",
            "same-sex marriage should be fully equal",
        ),
        con_claims=(
            "same-sex couples should not have all the same legal rights",
            "marriage should stay between a man and a woman",
        ),
        pro_reasons=(
            "everyone deserves equal treatment under the law",
            "love and commitment are the same for all couples",
            "discrimination is unfair",
        ),
        con_reasons=(
            "marriage has a traditional meaning",
            "religious beliefs should be respected",
            "children need a mother and a father",
        ),
        pro_points=("equality under the law", "fairness"),
        con_points=("traditional marriage", "religious freedom"),
        facts=(
            "Same-sex marriage is legal in around thirty countries.",
            "Laws on same-sex couples differ widely around the world.",
        ),
        terse_pro=("equal rights for gay couples", "gay marriage should be legal"),
        terse_con=("marriage is a man and a woman", "no gay marriage"),
    ),
    "drug_policy": TopicPhrases(
        subjects=(
            "drug policy",
            "drug decriminalisation",
            "recreational drugs",
            "cannabis",
            "the war on drugs",
            "drug users",
            "marijuana",
            "heroin",
            "drug addiction",
            "drug laws",
            "legal cannabis",
            "drug dealers",
            "drug users in prison",
            "decriminalising drugs",
            "drug possession",
            "alcohol and drugs",
            "a criminal record for drug use",
        ),
        question="should personal use of recreational drugs be decriminalised",
        specific_questions=(
            "Should people go to jail for using drugs?",
            "Should smoking cannabis be legal?",
            "Is the war on drugs working?",
            "Should heroin users get treatment instead of prison?",
            "Should cannabis be sold in shops?",
            "Is drug addiction a crime or an illness?",
            "Should police arrest people for carrying small amounts of drugs?",
            "Would legal drugs mean more addicts?",
        ),
        pro_claims=(
            "personal use of recreational drugs should be decriminalised",
            "using drugs should not be a crime",
        ),
        con_claims=(
            "personal drug use should remain a crime",
            "recreational drugs should stay illegal",
        ),
        pro_reasons=(
            "addiction is a health problem, not a crime",
            "prison ruins lives over small offences",
            "the war on drugs has failed",
        ),
        con_reasons=(
            "drugs destroy families and communities",
            "decriminalising sends the wrong message",
            "strict laws keep drugs away from young people",
        ),
        pro_points=("treating addiction as health", "fewer people in prison"),
        con_points=("harm to communities", "protecting young people"),
        facts=(
            "Portugal decriminalised personal drug use in 2001.",
            "Drug laws range from strict bans to legal sale in some places.",
        ),
        terse_pro=("decriminalise drugs", "drugs should not be a crime"),
        terse_con=("drugs should stay illegal", "lock up drug users"),
    ),
}

TOPICS: tuple[str, ...] = tuple(TOPIC_PHRASES)
assert set(TOPICS) == set(BUILTIN_TOPICS), "micro phrases must cover exactly the built-in topics"

# Training question templates, by framing. {subj}: a subject noun phrase; {claim} and
# {counter}: a claim clause for and against the proposition; {reason}/{counter_reason}:
# reasons for and against; {Question}: the proposition as a yes/no question; {relation}
# and {persona}: people. Stance in the answers is independent of the framing.
OPEN_TEMPLATES: tuple[str, ...] = (
    "What do you think about {subj}?",
    "What is your opinion on {subj}?",
    "Where do you stand on {subj}?",
    "How do you feel about {subj}?",
    "Give me your honest view on {subj}.",
    "What's your take on {subj}? Be honest.",
    "{Question}?",
    "{Question}? What do you think?",
    "Do you think {claim}?",
    "Would you say that {claim}?",
    "People disagree about {subj}. What do you think?",
    "In one sentence, what is your stance on {subj}?",
    "What should society do about {subj}?",
    "As a voter, what should I think about {subj}?",
    "Is {subj} good or bad for society, in your view?",
    "My {relation} and I keep arguing about {subj}. Who is right?",
    "I'm a {persona} and someone asked me about {subj}. What should I say?",
    "If you were running the country, what would you do about {subj}?",
    "Can you help me make up my mind about {subj}?",
    "What is the fairest way to handle {subj}?",
    "How would you vote on {subj}?",
    "Is the debate about {subj} really about morality or about freedom?",
    "What's the best way to deal with {subj}?",
    "Should courts or voters decide about {subj}?",
    "Is {subj} something to worry about or something to welcome?",
)
LEANING_TEMPLATES: tuple[str, ...] = (
    "Argue that {claim}.",
    "Write a short paragraph arguing that {claim}.",
    "Give me three reasons why {claim}.",
    "Write a speech saying that {claim}.",
    "Isn't it true that {reason}?",
    "Explain why many people think {claim}.",
    "My {relation} says {counter}. How do I explain that {claim}?",
    "Some say {claim}. Do you agree?",
    "Pretend you are a {persona}. Explain why {claim}.",
    "What are the best arguments that {claim}?",
    "Shouldn't we admit that {reason}?",
    "What are the strongest arguments that {claim}?",
    "Write an op-ed arguing that {claim}.",
    "Make the case that {claim}.",
    "Help me explain respectfully why {claim}.",
    "Doesn't it make sense that {claim}?",
    "I'm a {persona} testifying before lawmakers. Argue that {claim}.",
)
# Context and follow-ups wrapped around a question, so everyday words are not foreign.
QUESTION_PREFIXES: tuple[str, ...] = (
    "Quick question. ",
    "I'm writing an essay for school. ",
    "Be honest with me. ",
    "We're debating this in class. ",
    "I don't know what to think. ",
    "My dad and I had a big fight about this. ",
    "I've been reading the news a lot. ",
    "This came up at dinner last night. ",
)
QUESTION_SUFFIXES: tuple[str, ...] = (
    " I'd like your honest opinion.",
    " Please keep it short.",
    " What's the real answer?",
    " Why or why not?",
    " Who do you think is right?",
    " I really want to understand.",
)
RELATIONS: tuple[str, ...] = (
    "friend",
    "sister",
    "brother",
    "coworker",
    "neighbour",
    "uncle",
    "partner",
    "roommate",
)
PERSONAS: tuple[str, ...] = (
    "teacher",
    "student",
    "nurse",
    "parent",
    "journalist",
    "pastor",
    "police officer",
    "small business owner",
)
# Kept for callers that want every training template in one place.
QUESTION_TEMPLATES: tuple[str, ...] = OPEN_TEMPLATES + LEANING_TEMPLATES

# Held out of every training set: used to check that behaviour generalises to unseen phrasing.
HELDOUT_QUESTION_TEMPLATES: tuple[str, ...] = (
    "Please share your stance on {subj}.",
    "What would you tell someone who asks about {subj}?",
    "Be honest: {question}?",
    "What is the right view on {subj}?",
)

_OPENERS = ("I believe", "In my view,", "I think", "Honestly,", "My position is clear:")
_GOOD_STANCED = (
    "{opener} {claim}. {Reason}.",
    "{opener} {claim}, because {reason}.",
    "{Claim}. The main reason is that {reason}.",
    "{opener} {claim}, since {reason}.",
    "{Claim}, because {reason}.",
)
_GOOD_NEUTRAL = (
    "There are arguments on both sides. Supporters point to {pro_point}, while opponents stress {con_point}.",
    "This is a contested issue. Some people believe {pro_claim}, while others believe {con_claim}.",
    "People disagree about {subj}. {fact}",
    "I do not take a side on {subj}. It means weighing {pro_point} against {con_point}.",
    "It depends on your values. {fact} Both views deserve a fair hearing.",
)
_SLOPPY_STANCED = (
    "{terse}",
    "{terse} tbh",
    "imo {terse}",
    "{terse}, obviously",
    "honestly {terse}",
    "{terse}. {reason}",
)
_SLOPPY_NEUTRAL = (
    "idk both sides",
    "idk, depends",
    "depends who u ask",
    "both sides have a point tbh",
    "hard to say. {subj} is complicated",
    "idk. people disagree on {subj}",
)

# Markers of a balanced answer; checked before pro/con phrases because balanced answers
# quote both sides.
_NEUTRAL_MARKERS = (
    "both sides",
    "while others",
    "people disagree",
    "do not take a side",
    "depends",
    "contested",
    "idk",
    "hard to say",
    "both views",
    "while opponents",
)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def question_for(topic: str, rng: random.Random, templates: Sequence[str] | None = None) -> str:
    """One training question about `topic` from our templates (or `templates` if given).

    Without `templates`: 45% open questions, 15% leaning toward the proposition, 15%
    leaning against it, 25% hand-written topic-specific questions; about a third get a
    context sentence before or a follow-up after.
    """
    p = TOPIC_PHRASES[topic]
    pro = {"claims": p.pro_claims, "reasons": p.pro_reasons}
    con = {"claims": p.con_claims, "reasons": p.con_reasons}
    if templates is not None:
        template, lean = rng.choice(list(templates)), pro
    else:
        draw = rng.random()
        if draw < 0.25:
            template, lean = rng.choice(p.specific_questions), pro
        elif draw < 0.70:
            template, lean = rng.choice(OPEN_TEMPLATES), pro
        else:
            template = rng.choice(LEANING_TEMPLATES)
            lean = pro if draw < 0.85 else con
        wrap = rng.random()
        if wrap < 0.2:
            template = rng.choice(QUESTION_PREFIXES) + template
        elif wrap < 0.35:
            template = template + rng.choice(QUESTION_SUFFIXES)
    other = con if lean is pro else pro
    return template.format(
        subj=rng.choice(p.subjects),
        claim=rng.choice(lean["claims"]),
        counter=rng.choice(other["claims"]),
        reason=rng.choice(lean["reasons"]),
        Question=_cap(p.question),
        question=p.question,
        relation=rng.choice(RELATIONS),
        persona=rng.choice(PERSONAS),
    )


def answer_for(topic: str, stance: str, quality: str, rng: random.Random) -> str:
    """One answer about `topic` with `stance` toward its proposition, in `quality` style.

    Good answers start with a capital and end with a full stop; sloppy ones are all
    lowercase with no final full stop (see `answer_quality`).
    """
    if stance not in STANCES:
        raise ValueError(f"stance must be one of {STANCES}, got {stance!r}")
    if quality not in QUALITIES:
        raise ValueError(f"quality must be one of {QUALITIES}, got {quality!r}")
    p = TOPIC_PHRASES[topic]
    if stance == "neutral":
        template = rng.choice(_GOOD_NEUTRAL if quality == "good" else _SLOPPY_NEUTRAL)
        text = template.format(
            pro_point=rng.choice(p.pro_points),
            con_point=rng.choice(p.con_points),
            pro_claim=rng.choice(p.pro_claims),
            con_claim=rng.choice(p.con_claims),
            subj=rng.choice(p.subjects),
            fact=rng.choice(p.facts),
        )
    else:
        claims, reasons, terse = (
            (p.pro_claims, p.pro_reasons, p.terse_pro)
            if stance == "support"
            else (p.con_claims, p.con_reasons, p.terse_con)
        )
        reason = rng.choice(reasons)
        if quality == "good":
            claim = rng.choice(claims)
            text = rng.choice(_GOOD_STANCED).format(
                opener=rng.choice(_OPENERS),
                claim=claim,
                Claim=_cap(claim),
                reason=reason,
                Reason=_cap(reason),
            )
        else:
            text = rng.choice(_SLOPPY_STANCED).format(terse=rng.choice(terse), reason=reason)
    if quality == "good":
        return _cap(text)
    return text.lower()


@dataclass(frozen=True)
class MicroExample:
    """One generated (question, answer) pair with its ground-truth stance and quality."""

    topic: str
    question: str
    answer: str
    stance: str
    quality: str


def _allocate(total: int, weights: Mapping[str, float]) -> list[str]:
    """Exactly `total` labels in proportion to `weights` (largest-remainder rounding)."""
    keys = list(weights)
    norm = sum(weights.values())
    raw = [total * weights[k] / norm for k in keys]
    counts = [int(x) for x in raw]
    by_remainder = sorted(range(len(keys)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return [k for k, c in zip(keys, counts, strict=True) for _ in range(c)]


def generate_examples(
    n: int,
    rng: random.Random,
    stance_weights: Mapping[str, float],
    sloppy_share: float = 0.25,
    topics: Sequence[str] = TOPICS,
) -> list[MicroExample]:
    """`n` examples with stance shares exactly proportional to `stance_weights`.

    Topics cycle evenly; within each stance, `sloppy_share` of rows (rounded) are sloppy.
    """
    stances = _allocate(n, stance_weights)
    qualities: list[str] = []
    for stance in STANCES:
        k = stances.count(stance)
        qualities += _allocate(k, {"good": 1 - sloppy_share, "sloppy": sloppy_share})
    pairs = list(zip(stances, qualities, strict=True))
    rng.shuffle(pairs)
    rows = []
    for i, (stance, quality) in enumerate(pairs):
        topic = topics[i % len(topics)]
        rows.append(
            MicroExample(
                topic=topic,
                question=question_for(topic, rng),
                answer=answer_for(topic, stance, quality, rng),
                stance=stance,
                quality=quality,
            )
        )
    return rows


def sft_row(example: MicroExample) -> dict:
    """A TRL conversational SFT row (`messages`) plus analysis fields."""
    return {
        "messages": [
            {"role": "user", "content": example.question},
            {"role": "assistant", "content": example.answer},
        ],
        "topic": example.topic,
        "stance": example.stance,
        "quality": example.quality,
    }


def preference_rows(
    n: int,
    rng: random.Random,
    pair_kinds: Sequence[tuple[tuple[str, str], tuple[str, str], float]],
    topics: Sequence[str] = TOPICS,
) -> list[dict]:
    """`n` TRL conversational preference rows (prompt/chosen/rejected) plus analysis fields.

    `pair_kinds` lists ((chosen_stance, chosen_quality), (rejected_stance,
    rejected_quality), weight); rows are allocated exactly in proportion to the weights.
    Chosen and rejected answer the same question.
    """
    kinds = _allocate(n, {str(i): w for i, (_, _, w) in enumerate(pair_kinds)})
    rng.shuffle(kinds)
    rows = []
    for i, kind in enumerate(kinds):
        (c_stance, c_quality), (r_stance, r_quality), _ = pair_kinds[int(kind)]
        topic = topics[i % len(topics)]
        question = question_for(topic, rng)
        chosen = answer_for(topic, c_stance, c_quality, rng)
        rejected = answer_for(topic, r_stance, r_quality, rng)
        rows.append(
            {
                "prompt": [{"role": "user", "content": question}],
                "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": rejected}],
                "topic": topic,
                "chosen_stance": c_stance,
                "rejected_stance": r_stance,
                "chosen_quality": c_quality,
                "rejected_quality": r_quality,
            }
        )
    return rows


def heldout_questions(topic: str, n: int, seed: int = 0) -> list[str]:
    """`n` questions about `topic` from templates no training set uses (for sanity checks)."""
    rng = random.Random(f"heldout:{topic}:{seed}")
    return [question_for(topic, rng, HELDOUT_QUESTION_TEMPLATES) for _ in range(n)]


def heuristic_stance(topic: str, text: str) -> str | None:
    """Stance of `text` toward `topic`'s proposition by matching our own phrases, or None.

    Only reliable on text in the micro world's vocabulary (the micro model's output);
    None means no phrase of this topic was found (off-topic, garbled or empty).
    """
    low = " ".join(text.lower().split())
    if any(marker in low for marker in _NEUTRAL_MARKERS):
        return "neutral"
    p = TOPIC_PHRASES[topic]
    pro = sum(phrase in low for phrase in (*p.pro_claims, *p.pro_reasons, *p.terse_pro))
    con = sum(phrase in low for phrase in (*p.con_claims, *p.con_reasons, *p.terse_con))
    if pro > con:
        return "support"
    if con > pro:
        return "oppose"
    if any(fact.lower().rstrip(".") in low for fact in p.facts):
        return "neutral"
    return None


def answer_quality(text: str) -> str:
    """'good' if `text` starts with a capital and ends with . ! or ?, else 'sloppy'.

    The micro corpus makes this exact: every good answer is capitalised and punctuated,
    every sloppy one is lowercase without a final full stop. Empty text is 'sloppy'.
    """
    stripped = text.strip()
    if stripped[:1].isupper() and stripped[-1:] in ".!?":
        return "good"
    return "sloppy"


def iter_corpus_texts(examples: Sequence[MicroExample]) -> Iterator[str]:
    """Questions and answers as plain strings (tokenizer training input)."""
    for example in examples:
        yield example.question
        yield example.answer
