"""The demo's editorial texts: the Sociale Alliantie's themes and a year of issues.

Plain data for `service.demo`. The themes follow the network's werkprogramma
(shared/seed/werkprogramma-2015.txt): verarming, verrijking en verschulding, lokaal
and landelijk sociaal beleid, the voice of people who live in poverty, and the
regional alliance days. The people are fictitious except the four editors the
werkprogramma names.
"""

from __future__ import annotations

from dataclasses import dataclass

EDITORS = (
    ("peter.debie@socialealliantie.nl", "Peter de Bie"),
    ("ger.ramaekers@socialealliantie.nl", "Ger Ramaekers"),
    ("hub.crijns@socialealliantie.nl", "Hub Crijns"),
    ("raf.janssen@socialealliantie.nl", "Raf Janssen"),
)

CORRESPONDENTS = (
    ("marieke.dijkstra@example.nl", "Marieke Dijkstra (Groningen)"),
    ("jeroen.smits@example.nl", "Jeroen Smits (Noord-Brabant)"),
)


@dataclass(frozen=True)
class DemoTheme:
    """A theme with its public description (Markdown)."""

    slug: str
    name: str
    description: str


@dataclass(frozen=True)
class DemoArticle:
    """One article: title, author, Markdown body and an optional link."""

    title: str
    author: str
    body: str
    link_url: str = ""
    button_text: str = ""


@dataclass(frozen=True)
class DemoIssue:
    """The text of one issue: title, preheader, introduction and articles."""

    title: str
    preheader: str
    intro: str
    articles: tuple[DemoArticle, ...]


THEMES = (
    DemoTheme(
        "verarming",
        "Verarming",
        "Steeds meer mensen komen niet rond, ook mensen met werk. Onder dit thema "
        "volgen we hoe armoede ontstaat en blijft: lage inkomens, stijgende vaste "
        "lasten en regels die mensen klem zetten.\n\n"
        "We laten vooral mensen zelf aan het woord, want zij weten als geen ander "
        "wat armoede betekent.",
    ),
    DemoTheme(
        "lokaal-sociaal-beleid",
        "Lokaal sociaal beleid",
        "Gemeenten gaan over bijstand, schuldhulp en de Wmo. Elk voorjaar sturen we "
        "de **gemeenteraden** een brief met concrete voorstellen, opgesteld met "
        "anti-armoedegroepen aan de basis, zodat de raad ze kan bespreken bij de "
        "begroting van het jaar erna.",
    ),
    DemoTheme(
        "verschulding",
        "Verschulding",
        "Schulden ontstaan zelden door één verkeerde keuze. Onder dit thema gaat het "
        "over incasso, beslag, de beslagvrije voet en schuldhulpverlening die "
        "mensen echt verder helpt in plaats van hen te straffen.",
    ),
    DemoTheme(
        "stem-van-de-basis",
        "Stem van de basis",
        "Ervaringsdeskundigen en lokale groepen vertellen wat beleid in de praktijk "
        "betekent. Hun verhalen zijn de basis van onze voorstellen aan gemeenten en "
        "aan het Rijk.",
    ),
    DemoTheme(
        "landelijk-sociaal-beleid",
        "Landelijk sociaal beleid",
        "In het najaar doen we voorstellen aan de leden van de **Tweede Kamer** en "
        "bezoeken we fracties voor de begrotingsbehandeling van het ministerie van "
        "SZW. Twee keer per jaar overleggen we met de staatssecretaris.",
    ),
    DemoTheme(
        "verrijking",
        "Verrijking",
        "Armoede staat niet los van rijkdom. Onder dit thema kijken we naar de "
        "groeiende afstand tussen arm en rijk, naar belastingen en toeslagen, en naar "
        "wie er profiteert van beleid.",
    ),
    DemoTheme(
        "regionale-alliantiedagen",
        "Regionale alliantiedagen",
        "Regionale initiatiefnemers organiseren alliantiedagen; het landelijk netwerk "
        "levert sprekers en inhoud. Hier staan verslagen, aankondigingen en wat we "
        "ervan leerden.",
    ),
)

WEBSITE = "https://www.socialealliantie.nl"

#: per theme (same order as THEMES): the issue of this year, then of last year
ISSUES: tuple[tuple[DemoIssue, DemoIssue], ...] = (
    (
        DemoIssue(
            "Werken en toch arm",
            "Waarom een baan niet meer genoeg is, en wat gemeenten kunnen doen.",
            "Wie werkt, komt rond: dat was lang de afspraak. Voor een groeiende groep "
            "gaat die niet meer op. In dit nummer vertellen mensen hoe dat is, en "
            "zetten we op een rij wat er nodig is.",
            (
                DemoArticle(
                    "Een baan, twee baantjes, en nog tekort",
                    "Peter de Bie",
                    "Annemiek werkt 28 uur in de thuiszorg en vult aan met "
                    "schoonmaakwerk in het weekend. Toch staat ze aan het eind van "
                    "de maand bij de voedselbank.\n\n"
                    "„Ik schaam me niet meer,” zegt ze. „Ik werk me een slag in de "
                    "rondte. Het probleem is niet mijn inzet, het probleem is wat het "
                    "werk oplevert.”\n\n"
                    "Haar verhaal staat niet op zichzelf. Flexibele contracten, "
                    "wisselende uren en toeslagen die achteraf worden teruggevorderd "
                    "maken van werk een onzekere bron van inkomen.",
                ),
                DemoArticle(
                    "Wat de armoedeval in de praktijk betekent",
                    "Ger Ramaekers",
                    "Wie vanuit de bijstand meer gaat werken, verliest vaak "
                    "kwijtscheldingen, toeslagen en de gemeentelijke regelingen. "
                    "Per saldo blijft er soms minder over.\n\n"
                    "Gemeenten kunnen hier veel aan doen:\n\n"
                    "- inkomensgrenzen van regelingen geleidelijk laten aflopen;\n"
                    "- een vrijlatingsregeling die langer duurt dan zes maanden;\n"
                    "- één loket voor alle regelingen, zodat niemand iets mist.",
                ),
                DemoArticle(
                    "Oproep: vertel ons uw verhaal",
                    "Hub Crijns",
                    "Voor de brief aan de gemeenteraden zoeken we ervaringen van "
                    "mensen die werken en toch niet rondkomen. Uw verhaal kan "
                    "anoniem worden gebruikt.\n\n"
                    "Lokale groepen die willen meeschrijven aan de brief kunnen zich "
                    "melden bij het secretariaat.",
                    WEBSITE,
                    "Meld u aan",
                ),
            ),
        ),
        DemoIssue(
            "Armoede in de buurt",
            "Wat anti-armoedegroepen het afgelopen jaar zagen.",
            "We openen het jaar met een rondgang langs lokale groepen: wat zien zij "
            "gebeuren in hun wijk?",
            (
                DemoArticle(
                    "Vaste lasten stijgen sneller dan inkomens",
                    "Raf Janssen",
                    "Huur, energie en zorgpremie stegen dit jaar opnieuw. Voor wie "
                    "een laag inkomen heeft, blijft er na de vaste lasten weinig "
                    "over voor boodschappen, kleding of een verjaardag.",
                ),
            ),
        ),
    ),
    (
        DemoIssue(
            "Voorstellen voor de gemeenteraden",
            "De brief die in april en mei naar alle gemeenteraden gaat.",
            "Elk voorjaar schrijven we met lokale groepen een brief aan de "
            "gemeenteraden. Dit nummer laat zien wat erin komt te staan.",
            (
                DemoArticle(
                    "Schuldhulp zonder drempels",
                    "Raf Janssen",
                    "Wie hulp vraagt bij schulden, moet die snel krijgen: binnen drie "
                    "werkdagen een eerste gesprek, en bij dreigende huisuitzetting of "
                    "afsluiting dezelfde dag.\n\n"
                    "We vragen gemeenten ook om mensen niet uit te sluiten omdat ze "
                    "eerder een traject afbraken.",
                ),
                DemoArticle(
                    "Meedoen is meer dan rondkomen",
                    "Marieke Dijkstra (Groningen)",
                    "In Groningen zagen we hoe een meedoenregeling kinderen op sport "
                    "en muziekles houdt. Maar de aanvraag is ingewikkeld en veel "
                    "ouders weten niet dat ze er recht op hebben.\n\n"
                    "Ons voorstel: ken de regeling automatisch toe aan wie al "
                    "bijzondere bijstand of kwijtschelding krijgt.",
                ),
                DemoArticle(
                    "Zo bespreekt u de brief met uw raad",
                    "Peter de Bie",
                    "Een brief alleen verandert weinig. Vraag een gesprek aan met de "
                    "woordvoerders sociaal domein, neem mensen mee die hun ervaring "
                    "willen delen, en kom terug bij de begrotingsbehandeling.",
                ),
            ),
        ),
        DemoIssue(
            "De gemeente aan zet",
            "Wat er terechtkwam van onze voorstellen.",
            "Vorig jaar stuurden we alle gemeenteraden voorstellen. Hoe ging het "
            "verder?",
            (
                DemoArticle(
                    "Een rondgang langs de raden",
                    "Hub Crijns",
                    "In een flink aantal gemeenten kwamen onze voorstellen op de "
                    "agenda. Het vaakst overgenomen: een ruimere kwijtschelding van "
                    "lokale lasten en snellere schuldhulp.",
                ),
            ),
        ),
    ),
    (
        DemoIssue(
            "Uit de schulden, en dan?",
            "Over de beslagvrije voet, incasso en een nieuwe start.",
            "Schulden houden mensen jaren vast. In dit nummer: wat er misgaat bij "
            "incasso en beslag, en wat helpt om er echt uit te komen.",
            (
                DemoArticle(
                    "De beslagvrije voet moet kloppen",
                    "Ger Ramaekers",
                    "Bij beslag op loon of uitkering moet er genoeg overblijven om "
                    "van te leven. Als schuldeisers de beslagvrije voet verkeerd "
                    "berekenen, raken mensen dieper in de problemen.",
                ),
                DemoArticle(
                    "Incassokosten stapelen zich op",
                    "Jeroen Smits (Noord-Brabant)",
                    "Een rekening van veertig euro groeit door aanmaningen en "
                    "incassokosten uit tot een veelvoud. Lokale groepen in Brabant "
                    "helpen mensen om bezwaar te maken.",
                ),
                DemoArticle(
                    "Een tweede kans",
                    "Peter de Bie",
                    "Na een schuldtraject begint het pas. Budgetcoaching, een "
                    "buffer en nazorg voorkomen dat mensen terugvallen.",
                ),
            ),
        ),
        DemoIssue(
            "Schulden en schaamte",
            "Waarom mensen pas laat hulp vragen.",
            "Gemiddeld zoeken mensen pas na jaren hulp bij schulden. Schaamte speelt "
            "een grote rol.",
            (
                DemoArticle(
                    "Eerder erbij zijn",
                    "Raf Janssen",
                    "Woningcorporaties, energieleveranciers en zorgverzekeraars zien "
                    "betalingsachterstanden als eersten. Als zij op tijd aan de bel "
                    "trekken, kan de gemeente hulp aanbieden voordat het uit de hand "
                    "loopt.",
                ),
            ),
        ),
    ),
    (
        DemoIssue(
            "Ervaringsdeskundigen aan tafel",
            "Beleid wordt beter als wie het raakt meepraat.",
            "In dit nummer vertellen ervaringsdeskundigen hoe zij meepraten met hun "
            "gemeente, en wat daarvoor nodig is.",
            (
                DemoArticle(
                    "Gehoord worden, niet alleen gevraagd",
                    "Hub Crijns",
                    "Meepraten werkt alleen als er ook iets met de inbreng gebeurt. "
                    "Leg vast wat er met adviezen van cliëntenraden gebeurt.",
                ),
                DemoArticle(
                    "Een vergoeding voor inzet",
                    "Marieke Dijkstra (Groningen)",
                    "Wie een uitkering heeft en meedenkt met de gemeente, mag daar "
                    "soms geen vergoeding voor ontvangen. Zo gaat kennis verloren.",
                ),
                DemoArticle(
                    "Verhalen uit de regio",
                    "Raf Janssen",
                    "Van Zeeland tot Drenthe: lokale groepen vertellen hoe zij hun "
                    "gemeente in beweging kregen.",
                ),
            ),
        ),
        DemoIssue(
            "Wat armoede met je doet",
            "Drie mensen over leven met weinig geld.",
            "Armoede is meer dan geldgebrek: het kost energie, gezondheid en "
            "contacten.",
            (
                DemoArticle(
                    "Altijd rekenen",
                    "Peter de Bie",
                    "„Ik reken de hele dag,” vertelt Karim. „Bij elke boodschap, elke "
                    "rekening. Dat maakt moe, en dan maak je fouten.”",
                ),
            ),
        ),
    ),
    (
        DemoIssue(
            "Naar de Tweede Kamer",
            "Onze voorstellen voor de begroting van SZW.",
            "In het najaar bezoeken we de fracties. Dit zijn de voorstellen die we "
            "meenemen.",
            (
                DemoArticle(
                    "Een minimum dat genoeg is",
                    "Ger Ramaekers",
                    "Het sociaal minimum moet aansluiten bij wat levensonderhoud "
                    "werkelijk kost. We vragen de Kamer om een onafhankelijke toets.",
                ),
                DemoArticle(
                    "Toeslagen die niet terugslaan",
                    "Hub Crijns",
                    "Terugvorderingen van toeslagen duwen mensen in de schulden. "
                    "Een systeem dat vooraf klopt, voorkomt veel ellende.",
                ),
                DemoArticle(
                    "Verslag van het overleg met de staatssecretaris",
                    "Peter de Bie",
                    "Twee keer per jaar spreken we de staatssecretaris. Deze keer "
                    "ging het over de kostendelersnorm en de stapeling van "
                    "maatregelen.",
                ),
            ),
        ),
        DemoIssue(
            "Begroting en armoede",
            "Wat de Miljoenennota betekent voor mensen met weinig geld.",
            "De plannen voor volgend jaar op een rij, gelezen door de bril van wie "
            "rond moet komen van een minimum.",
            (
                DemoArticle(
                    "Koopkracht is geen gemiddelde",
                    "Ger Ramaekers",
                    "Plaatjes met gemiddelde koopkracht verbergen dat sommige "
                    "huishoudens er fors op achteruitgaan.",
                ),
            ),
        ),
    ),
    (
        DemoIssue(
            "Arm en rijk groeien uit elkaar",
            "Over vermogen, belasting en wie er profiteert.",
            "De afstand tussen arm en rijk groeit. In dit nummer kijken we naar de "
            "oorzaken en naar wat eerlijker kan.",
            (
                DemoArticle(
                    "Vermogen groeit, loon blijft achter",
                    "Raf Janssen",
                    "Wie bezit heeft, ziet dat groeien. Wie van loon of uitkering "
                    "leeft, gaat er nauwelijks op vooruit.",
                ),
                DemoArticle(
                    "Eerlijk belasten",
                    "Ger Ramaekers",
                    "Lage inkomens betalen naar verhouding veel aan btw en lokale "
                    "lasten. Een eerlijker stelsel begint daar.",
                ),
                DemoArticle(
                    "Wat u zelf kunt doen",
                    "Jeroen Smits (Noord-Brabant)",
                    "Spreek uw gemeente aan op de kwijtschelding van lokale lasten: "
                    "daar heeft de raad zelf zeggenschap over.",
                ),
            ),
        ),
        DemoIssue(
            "De prijs van ongelijkheid",
            "Waarom ongelijkheid ons allemaal raakt.",
            "Ongelijkheid kost gezondheid, vertrouwen en kansen.",
            (
                DemoArticle(
                    "Korter en minder gezond",
                    "Hub Crijns",
                    "Mensen met weinig geld leven gemiddeld korter, en veel "
                    "langer in slechte gezondheid.",
                ),
            ),
        ),
    ),
    (
        DemoIssue(
            "Terugblik op de alliantiedagen",
            "Wat we leerden in de regio.",
            "Dit jaar waren er alliantiedagen in drie provincies. Een terugblik, en "
            "een vooruitblik op volgend jaar.",
            (
                DemoArticle(
                    "Limburg: samen tegen armoede",
                    "Peter de Bie",
                    "Meer dan honderd deelnemers kwamen bijeen. De rode draad: "
                    "armoede bestrijd je samen met wie het meemaakt.",
                ),
                DemoArticle(
                    "Groningen: wonen en energie",
                    "Marieke Dijkstra (Groningen)",
                    "Hoge energierekeningen in slecht geïsoleerde huizen waren het "
                    "gesprek van de dag.",
                ),
                DemoArticle(
                    "Zelf een alliantiedag organiseren?",
                    "Ger Ramaekers",
                    "Het landelijk netwerk levert sprekers en inhoud; de organisatie "
                    "en bekostiging liggen in de regio. Neem contact op met het "
                    "secretariaat.",
                    WEBSITE,
                    "Neem contact op",
                ),
            ),
        ),
        DemoIssue(
            "Alliantiedagen in de regio",
            "Aankondigingen en verslagen.",
            "Regionale alliantiedagen brengen mensen en organisaties samen.",
            (
                DemoArticle(
                    "Brabant: armoede en gezondheid",
                    "Jeroen Smits (Noord-Brabant)",
                    "Huisartsen en anti-armoedegroepen zochten samen naar manieren "
                    "om armoede eerder te herkennen.",
                ),
            ),
        ),
    ),
)
